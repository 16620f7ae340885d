# Pooled (Student, equal-variance) two-sample t p-values for the between-group datasets of
# effectsize_reference.json, for test_reference_r.py::test_pooled_t_p_values_match_r. Regenerate (from the
# repository root):
#   Rscript tests/reference/effects/pooled_t_reference.R > tests/reference/effects/pooled_t_reference.json
# R 4 (stats::t.test).
suppressPackageStartupMessages(library(jsonlite))
ref <- fromJSON("tests/reference/effects/effectsize_reference.json")
out <- lapply(ref$between, function(d) {
  tt <- t.test(d$x, d$y, var.equal = TRUE)
  list(statistic = unname(tt$statistic), df = unname(tt$parameter), p_value = tt$p.value)
})
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "\n")
