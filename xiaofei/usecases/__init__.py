"""The use-cases: plain, typed functions over the App that every adapter calls, one module per concept.

``predict`` (read one image, keep it for a known caller), ``uploads`` (a place to upload, and the COS
trigger's completion), ``history`` (a caller's records), ``sessions`` (bearer tokens), ``models`` (the
served models, health), ``reviews`` (the doctor's read), ``export`` and ``agreement`` (the operator's),
and ``common`` (what several share). They know no platform: no HTTP, no WeChat fileIDs, no SCF events.
"""
