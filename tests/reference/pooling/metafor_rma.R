# Reference numbers for massage_outcomes.effects.pooling.pool, from metafor's rma() / predict() / confint().
# Regenerate (from the repository root):  Rscript tests/reference/pooling/metafor_rma.R
# Writes tests/reference/pooling/metafor_rma.json (inputs yi/vi and results per case x method x test).
# PM and the Q-profile CI of tau2 are computed with control tol = 1e-12 (metafor's default uniroot tolerance,
# .Machine$double.eps^0.25 ~ 1.2e-4, limits agreement to about 1e-4 on tau2); the default-tolerance PM values
# are stored too (key "default_tol") to show the difference.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
out_path <- file.path("tests", "reference", "pooling", "metafor_rma.json")

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
smd <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
              data = dat.normand1999)
cases <- list(
  bcg = list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), group = rep("all", nrow(bcg))),
  bcg_by_alloc = list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), group = as.character(bcg$alloc)),
  normand_smd = list(yi = as.numeric(smd$yi), vi = as.numeric(smd$vi), group = rep("all", nrow(smd))),
  homogeneous = list(yi = c(0.10, 0.12, 0.09, 0.11, 0.15), vi = c(0.04, 0.05, 0.03, 0.06, 0.02),
                     group = rep("all", 5))
)
methods <- c("REML", "ML", "DL", "HE", "PM", "FE")
tests <- c("z", "knha", "t", "adhoc")
results <- list()
for (cn in names(cases)) {
  cs <- cases[[cn]]
  for (g in sort(unique(cs$group))) {
    sel <- cs$group == g
    yi <- cs$yi[sel]; vi <- cs$vi[sel]
    for (m in methods) for (tt in tests) {
      ctrl <- if (m == "PM") list(tol = 1e-12) else list()
      fit <- suppressWarnings(rma(yi, vi, method = m, test = tt, control = ctrl))
      pr <- predict(fit)
      row <- list(case = cn, group = g, method = m, test = tt, k = fit$k,
                  estimate = as.numeric(fit$beta), se = fit$se, ci_low = fit$ci.lb, ci_high = fit$ci.ub,
                  statistic = fit$zval, p_value = fit$pval, tau2 = fit$tau2, se_tau2 = fit$se.tau2,
                  I2 = fit$I2, H2 = fit$H2, Q = fit$QE, Q_p = fit$QEp,
                  pi_low = if (is.null(pr$pi.lb)) NA else pr$pi.lb,
                  pi_high = if (is.null(pr$pi.ub)) NA else pr$pi.ub,
                  tau2_ci_low = NA, tau2_ci_high = NA, I2_ci_low = NA, I2_ci_high = NA)
      if (m != "FE" && fit$k > 1) {
        ci <- confint(fit, control = list(tol = 1e-12))$random
        row$tau2_ci_low <- ci["tau^2", "ci.lb"]; row$tau2_ci_high <- ci["tau^2", "ci.ub"]
        row$I2_ci_low <- ci["I^2(%)", "ci.lb"]; row$I2_ci_high <- ci["I^2(%)", "ci.ub"]
      }
      if (m == "PM") row$default_tol_tau2 <- suppressWarnings(rma(yi, vi, method = "PM", test = tt))$tau2
      results[[length(results) + 1]] <- row
    }
  }
}
inputs <- lapply(cases, function(cs) list(yi = cs$yi, vi = cs$vi, group = cs$group))
write_json(list(metafor_version = as.character(packageVersion("metafor")), R_version = R.version.string,
                inputs = inputs, results = results),
           out_path, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE)
cat("wrote", out_path, "with", length(results), "result rows\n")
