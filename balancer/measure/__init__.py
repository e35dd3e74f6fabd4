"""`balancer measure`: case weights and the year value from a time study (NCSC/APRI method).

    load (`load`: the study YAML and its tables) → compute (`compute`: weights, bootstrap intervals,
    year value, adjustment rounds, warnings) → write (`outputs`: a workload model YAML that `run`
    and `staffing` use as it is, and the tables); `compare` sets the result beside an older model
    through the staffing model.

In Python:

    from balancer.measure import load_study, load_adjustments, measure, write_measure
    data = load_study("scenarios/measure/study.yaml")
    found = measure(data, [(load_adjustments(path, data.type_ids)[0], str(path))])
"""

from balancer.measure.compute import Measured, bootstrap_weights, draw_counts, longest_gaps, measure
from balancer.measure.load import StudyData, load_adjustments, load_study
from balancer.measure.outputs import MODEL_FILE, model_document, model_yaml, write_measure
from balancer.measure.schema import Adjustment, Adjustments, Study

__all__ = ["MODEL_FILE", "Adjustment", "Adjustments", "Measured", "Study", "StudyData", "bootstrap_weights",
           "draw_counts", "load_adjustments", "load_study", "longest_gaps", "measure", "model_document",
           "model_yaml", "write_measure"]
