"""The draw register: a hash-chained, append-only store (`store`), the draws recorded on it and
replayed from it (`draws`), and where it is by default (`location`)."""

from balancer.register.draws import (
    Recorded, applied_settings, claimed_records, current_operator, load_recorded, record_draw, replay, replay_intake, result_digest,
    seed_problems, software_versions, summary_problems,
)
from balancer.register.ceremony import SALT_BYTES, CeremonyError, seed_commitment
from balancer.register.location import register_location
from balancer.register.store import (
    GENESIS, ChainReport, MissingRegister, OpenCommitments, Record, RedrawWithoutReason, Register, RegisterError,
    canonical_json,
)

__all__ = [
    "GENESIS", "SALT_BYTES", "CeremonyError", "ChainReport", "MissingRegister", "OpenCommitments", "Record", "Recorded", "RedrawWithoutReason", "Register",
    "RegisterError", "applied_settings", "canonical_json", "claimed_records", "current_operator", "load_recorded", "record_draw",
    "register_location", "replay", "replay_intake", "result_digest", "seed_commitment", "seed_problems", "software_versions", "summary_problems",
]
