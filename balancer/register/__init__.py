"""The draw register: a hash-chained, append-only store (`store`), the draws recorded on it and
replayed from it (`draws`), and where it is by default (`location`)."""

from balancer.register.draws import (
    Recorded, applied_settings, current_operator, load_recorded, record_draw, replay, result_digest,
    software_versions,
)
from balancer.register.location import register_location
from balancer.register.store import (
    GENESIS, SALT_BYTES, ChainReport, MissingRegister, Record, RedrawWithoutReason, Register, RegisterError,
    canonical_json, seed_commitment,
)

__all__ = [
    "GENESIS", "SALT_BYTES", "ChainReport", "MissingRegister", "Record", "Recorded", "RedrawWithoutReason", "Register",
    "RegisterError", "applied_settings", "canonical_json", "current_operator", "load_recorded", "record_draw",
    "register_location", "replay", "result_digest", "seed_commitment", "software_versions",
]
