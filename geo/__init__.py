"""Pure domain core of Community Safety Atlas.

Arrays and dataclasses in, arrays and dataclasses out. No web framework, no database, no file or
network I/O beyond reading a file path handed in explicitly (the OSTN15 grid). Coordinates are
EPSG:27700 (British National Grid, metres) unless a name says ``lon``/``lat`` (degrees).
"""
