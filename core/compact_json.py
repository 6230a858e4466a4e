"""JSON without spaces, for records written to Redis on every call.

One encoder, made once: `json.dumps(..., separators=...)` builds a new JSONEncoder on every call
(about a dozen records a call in the ACD). Same defaults as `json.dumps` otherwise.
"""

from __future__ import annotations

import json

compact_json = json.JSONEncoder(separators=(",", ":")).encode
