# Reference numbers for massage_outcomes.effects.clinical (responder_table / responders).
# Regenerate (from the repository root):  Rscript tests/reference/clinical/responder_tables.R
# Writes tests/reference/clinical/responder_tables.json.
# - Wilson interval per arm: prop.test(x, n, correct = FALSE)$conf.int (the Wilson score interval)
# - Risk difference: Newcombe (1998) hybrid score interval, method 10, by formula from the Wilson limits
# - Risk ratio and odds ratio: metafor::escalc(measure = "RR"/"OR") with its log-scale variance
#   (Katz / Woolf), exp(yi -/+ z sqrt(vi)); add = 0 (no correction) and, for tables with a zero cell,
#   add = 1/2, to = "only0" (the continuity = 0.5 case)
# - NNT = 1/RD and its limits 1/RD limits (Altman 1998)
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
out_path <- file.path("tests", "reference", "clinical", "responder_tables.json")
cases <- data.frame(
  name = c("sherman_like", "half_vs_fifth", "crossing_zero", "harm", "no_difference", "tiny",
           "zero_in_one_arm", "all_in_one_arm", "both_zero", "both_all", "unequal_n"),
  x1 = c(12, 25, 15, 3, 5, 2, 0, 10, 0, 12, 40),
  n1 = c(31, 50, 30, 30, 40, 3, 10, 10, 12, 12, 133),
  x2 = c(4, 10, 12, 10, 5, 1, 3, 7, 0, 12, 21),
  n2 = c(29, 50, 30, 30, 40, 4, 10, 10, 12, 12, 136)
)
z <- qnorm(0.975)
wilson <- function(x, n) as.numeric(prop.test(x, n, correct = FALSE)$conf.int)
rows <- list()
for (i in seq_len(nrow(cases))) {
  cs <- cases[i, ]
  w1 <- wilson(cs$x1, cs$n1); w2 <- wilson(cs$x2, cs$n2)
  p1 <- cs$x1 / cs$n1; p2 <- cs$x2 / cs$n2; rd <- p1 - p2
  rd_lo <- rd - sqrt((p1 - w1[1])^2 + (w2[2] - p2)^2)
  rd_hi <- rd + sqrt((w1[2] - p1)^2 + (p2 - w2[1])^2)
  ratio <- function(measure, add) {
    e <- suppressWarnings(escalc(measure = measure, ai = cs$x1, n1i = cs$n1, ci = cs$x2, n2i = cs$n2,
                                 add = add, to = "only0"))
    c(exp(e$yi), exp(e$yi - z * sqrt(e$vi)), exp(e$yi + z * sqrt(e$vi)))
  }
  rr0 <- ratio("RR", 0); or0 <- ratio("OR", 0); rr5 <- ratio("RR", 1/2); or5 <- ratio("OR", 1/2)
  fin <- function(v) ifelse(is.finite(v), v, NA)
  rows[[i]] <- list(name = cs$name, x1 = cs$x1, n1 = cs$n1, x2 = cs$x2, n2 = cs$n2,
    rate_1 = p1, rate_1_ci_low = w1[1], rate_1_ci_high = w1[2],
    rate_2 = p2, rate_2_ci_low = w2[1], rate_2_ci_high = w2[2],
    risk_diff = rd, risk_diff_ci_low = rd_lo, risk_diff_ci_high = rd_hi,
    risk_ratio = fin(rr0[1]), risk_ratio_ci_low = fin(rr0[2]), risk_ratio_ci_high = fin(rr0[3]),
    odds_ratio = fin(or0[1]), odds_ratio_ci_low = fin(or0[2]), odds_ratio_ci_high = fin(or0[3]),
    cc_risk_ratio = fin(rr5[1]), cc_risk_ratio_ci_low = fin(rr5[2]), cc_risk_ratio_ci_high = fin(rr5[3]),
    cc_odds_ratio = fin(or5[1]), cc_odds_ratio_ci_low = fin(or5[2]), cc_odds_ratio_ci_high = fin(or5[3]),
    nnt = fin(1 / rd), inv_rd_ci_low = fin(1 / rd_lo), inv_rd_ci_high = fin(1 / rd_hi))
}
write_json(list(R_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
                rows = rows), out_path, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE)
cat("wrote", out_path, "with", length(rows), "rows\n")
