"""Staffing models: how many prosecutors a caseload needs, by the plain formula and by an optimiser.

The plain weighted-caseload formula (NCSC/APRI studies, PEBB§Y) is

    FTE need = Σ_type filings × weight_hours ÷ (hours_per_fte × period share),   gap = need − FTE in post.

It treats every post as able to take every case, fills posts to 100 % and ignores work already in
hand. `plan_staffing` also answers the question a reform team actually has: the fewest hires that
bring every prosecutor's utilisation at or below a target, given who may take which case.

The optimiser is a small integer model over
- receivers: *groups* of staff in post (one office, one eligibility row; with a fluid assignment
  such a group behaves exactly like one person of its summed spare time) and hire *profiles*
  (specialisation × grade × office; profiles that could take exactly the same work are merged
  into the lowest grade), with integer hires h_j ≥ 0 per profile;
- continuous flows of each (type, office) workload to eligible receivers (cases with an office go
  only to staff and hires of that office; cases without one may go anywhere);
- each group's load ≤ its spare time at the target, each profile's ≤ target × hire hours × h_j.

Modules, in the order the work flows: `inputs` (demand rows, groups, profiles), `decompose`
(eligible pairs and the independent parts), `model` (hires first, then grades, per part, with
SciPy's HiGHS; the min-max LP), `explain` (table and findings), `plan` (`plan_staffing`),
`sweep` (what-ifs), `report` (report.html), `outputs` (files).
"""

from balancer.staffing.inputs import ALL, ANY, period_share
from balancer.staffing.model import DEFAULT_TIME_LIMIT, Hires, best_max_utilisation, min_hires
from balancer.staffing.outputs import write_staffing
from balancer.staffing.plan import MAX_TARGET, StaffingResult, plan_staffing
from balancer.staffing.sweep import MAX_SWEEP_STEPS, Sweep, parse_sweep, run_sweep, with_value

__all__ = ["ALL", "ANY", "DEFAULT_TIME_LIMIT", "MAX_SWEEP_STEPS", "MAX_TARGET", "Hires", "StaffingResult",
           "Sweep", "best_max_utilisation", "min_hires", "parse_sweep", "period_share", "plan_staffing",
           "run_sweep", "with_value", "write_staffing"]
