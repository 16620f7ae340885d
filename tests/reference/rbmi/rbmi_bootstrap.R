# rbmi reference: conditional mean imputation with bootstrap inference (random: compared within Monte Carlo
# error). Regenerate: cd tests/reference/rbmi && R_LIBS=/work/Rlib Rscript rbmi_bootstrap.R
suppressPackageStartupMessages({library(rbmi); library(jsonlite)})
set.seed(20261205)
orig_mmrm <- mmrm::mmrm  # the same tight optimizer as rbmi_reference.R
assignInNamespace("mmrm", function(formula, data, reml = TRUE, ...) {
  orig_mmrm(formula = formula, data = data, reml = reml, ..., optimizer = "BFGS",
            optimizer_control = list(reltol = 1e-15, maxit = 5000))
}, ns = "mmrm")
d <- read.csv("data.csv")
d$subject <- factor(d$subject)
d$arm <- factor(d$arm, levels = c("control", "massage"))
d$visit <- factor(d$visit, levels = c("week_2", "week_4", "week_8", "week_12"))
ev <- read.csv("events.csv")
e <- data.frame(subject = ev$subject, visit = factor(ev$visit, levels = levels(d$visit)), strategy = "JR")
vars <- set_vars(subjid = "subject", visit = "visit", group = "arm", outcome = "value",
                 covariates = c("baseline*visit", "arm*visit"), strategy = "strategy")
avars <- set_vars(subjid = "subject", visit = "visit", group = "arm", outcome = "value", covariates = "baseline")
dr <- draws(data = d, data_ice = e, vars = vars, method = method_condmean(n_samples = 400, type = "bootstrap"),
            quiet = TRUE)
an <- analyse(impute(dr, references = c(control = "control", massage = "control")), fun = ancova, vars = avars)
tidy <- function(p) data.frame(parameter = names(p), est = sapply(p, `[[`, "est"),
                               se = sapply(p, function(x) if (is.null(x$se) || is.na(x$se)) NA else x$se),
                               lci = sapply(p, function(x) x$ci[1]), uci = sapply(p, function(x) x$ci[2]),
                               pvalue = sapply(p, `[[`, "pvalue"), row.names = NULL)
out <- list(normal = tidy(pool(an, type = "normal")$pars), percentile = tidy(pool(an, type = "percentile")$pars))
writeLines(toJSON(out, digits = NA, pretty = TRUE), "rbmi_bootstrap.json")
print(out)
