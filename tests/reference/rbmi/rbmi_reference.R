# rbmi references for massage_outcomes.sensitivity (rbmi 1.5.2, mmrm 0.3.18).
# Regenerate:  cd tests/reference/rbmi && python make_data.py && R_LIBS=/work/Rlib Rscript rbmi_reference.R
# (writes rbmi_reference.json). Data: data.csv / events.csv, simulated by make_data.py (seeded).
suppressPackageStartupMessages({library(rbmi); library(jsonlite)})
set.seed(20261204)
d <- read.csv("data.csv")
d$subject <- factor(d$subject)
d$arm <- factor(d$arm, levels = c("control", "massage"))
d$visit <- factor(d$visit, levels = c("week_2", "week_4", "week_8", "week_12"))
ev <- read.csv("events.csv")
vars <- set_vars(subjid = "subject", visit = "visit", group = "arm", outcome = "value",
                 covariates = c("baseline*visit", "arm*visit"), strategy = "strategy")
avars <- set_vars(subjid = "subject", visit = "visit", group = "arm", outcome = "value", covariates = "baseline")
refs <- c(control = "control", massage = "control")

events_with <- function(strategy) {
  e <- data.frame(subject = ev$subject, visit = ev$visit, strategy = strategy)
  e$visit <- factor(e$visit, levels = levels(d$visit))
  e
}
tidy <- function(pooled) {
  p <- pooled$pars
  data.frame(parameter = names(p), est = sapply(p, `[[`, "est"), se = sapply(p, `[[`, "se"),
             lci = sapply(p, `[[`, "ci")[1, ], uci = sapply(p, `[[`, "ci")[2, ], df = sapply(p, function(x) if (is.null(x$df)) NA else x$df),
             pvalue = sapply(p, `[[`, "pvalue"), row.names = NULL)
}
# delta per arm added to every imputed (originally missing) value
delta_for <- function(imps, d_control, d_massage) {
  dt <- delta_template(imps)
  arm <- d$arm[match(dt$subject, d$subject)]
  dt$delta <- ifelse(dt$is_missing, ifelse(arm == "control", d_control, d_massage), 0)
  dt[, c("subject", "visit", "delta")]
}

out <- list()
cm <- method_condmean(type = "jackknife")
# mmrm's default optimizer (L-BFGS-B, factr 1e7) stops about 1e-5 from the REML optimum here, which would hide
# differences of 1e-6: keep one run with the default, then refit every model with BFGS at reltol 1e-15 so that
# rbmi and massage_outcomes reach the same optimum (rbmi calls mmrm::mmrm, so its namespace binding is wrapped).
e_jr <- events_with("JR")
dr0 <- draws(data = d, data_ice = e_jr, vars = vars, method = cm, quiet = TRUE)
out[["JR_default_optimizer"]] <- tidy(pool(analyse(impute(dr0, references = refs), fun = ancova, vars = avars)))
orig_mmrm <- mmrm::mmrm
tight_mmrm <- function(formula, data, reml = TRUE, ...) {
  orig_mmrm(formula = formula, data = data, reml = reml, ..., optimizer = "BFGS",
            optimizer_control = list(reltol = 1e-15, maxit = 5000))
}
assignInNamespace("mmrm", tight_mmrm, ns = "mmrm")
for (s in c("MAR", "JR", "CR", "CIR", "mixed")) {
  e <- events_with(if (s == "mixed") ev$mixed else s)
  dr <- draws(data = d, data_ice = e, vars = vars, method = cm, quiet = TRUE)
  imps <- impute(dr, references = refs)
  an <- analyse(imps, fun = ancova, vars = avars)
  out[[s]] <- tidy(pool(an))
  if (s == "JR") {
    out[["JR_delta"]] <- tidy(pool(analyse(imps, fun = ancova, vars = avars, delta = delta_for(imps, 0, 2))))
    grid <- expand.grid(d_control = c(-1, 0), d_massage = c(0, 1.5, 3))
    out[["JR_tipping"]] <- do.call(rbind, lapply(seq_len(nrow(grid)), function(i) {
      r <- tidy(pool(analyse(imps, fun = ancova, vars = avars,
                             delta = delta_for(imps, grid$d_control[i], grid$d_massage[i]))))
      r <- r[r$parameter == "trt_week_12", ]
      cbind(grid[i, ], r)
    }))
    out[["JR_beta"]] <- unname(dr$samples[[1]]$beta)
    out[["JR_sigma"]] <- unname(dr$samples[[1]]$sigma[[1]])
  }
}
# approximate Bayesian MI (random: compared within Monte Carlo error)
ab <- method_approxbayes(n_samples = 200)
for (s in c("MAR", "JR")) {
  dr <- draws(data = d, data_ice = events_with(s), vars = vars, method = ab, quiet = TRUE)
  an <- analyse(impute(dr, references = refs), fun = ancova, vars = avars)
  out[[paste0("approxbayes_", s)]] <- tidy(pool(an))
}
writeLines(toJSON(out, digits = NA, pretty = TRUE), "rbmi_reference.json")
print(out$JR); print(out$approxbayes_JR)
