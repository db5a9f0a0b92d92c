"""Platform adapters: HTTP, SCF/CloudBase events, the local server, the command lines, the SCF API."""
