import sys

from xiaofei.adapters.cli import main

sys.exit(main())
