# rbmi reference: observed values after a non-MAR intercurrent event (left out of the imputation model's fit,
# kept in the analysis). Regenerate: cd tests/reference/rbmi && R_LIBS=/work/Rlib Rscript rbmi_post_ice.R
suppressPackageStartupMessages({library(rbmi); library(jsonlite)})
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
# five completers per arm get an event at week_8 (their week_8 and week_12 values are observed)
done <- tapply(!is.na(d$value), d$subject, all)
completers <- names(done)[done]
arm_of <- d$arm[match(completers, d$subject)]
extra <- c(head(completers[arm_of == "control"], 5), head(completers[arm_of == "massage"], 5))
e <- rbind(data.frame(subject = ev$subject, visit = ev$visit, strategy = "JR"),
           data.frame(subject = extra, visit = "week_8", strategy = "JR"))
e$visit <- factor(e$visit, levels = levels(d$visit))
write.csv(e, "events_post_ice.csv", row.names = FALSE)
vars <- set_vars(subjid = "subject", visit = "visit", group = "arm", outcome = "value",
                 covariates = c("baseline*visit", "arm*visit"), strategy = "strategy")
avars <- set_vars(subjid = "subject", visit = "visit", group = "arm", outcome = "value", covariates = "baseline")
dr <- suppressWarnings(draws(data = d, data_ice = e, vars = vars, method = method_condmean(type = "jackknife"),
                             quiet = TRUE))
p <- pool(analyse(impute(dr, references = c(control = "control", massage = "control")), fun = ancova, vars = avars))$pars
out <- data.frame(parameter = names(p), est = sapply(p, `[[`, "est"), se = sapply(p, `[[`, "se"), row.names = NULL)
writeLines(toJSON(list(JR_post_ice = out, beta = unname(dr$samples[[1]]$beta)), digits = NA, pretty = TRUE),
           "rbmi_post_ice.json")
print(out)
