# A therapist random intercept with a residual covariance over visits (what R's mmrm declines): nlme::lme.
# Regenerate:  cd tests/reference/mmrm && Rscript therapist_reference.R   (writes therapist_reference.json)
suppressPackageStartupMessages({library(nlme); library(lmerTest); library(jsonlite)})
d <- read.csv("therapist.csv")
d$arm <- factor(d$arm, levels = c("usual_care", "massage"))
d$visit <- factor(d$visit, levels = paste0("week_", c(2, 4, 8, 12)))
ctl <- lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, msTol = 1e-12, niterEM = 100,
                  opt = "nlminb", returnObject = TRUE)
f <- value ~ arm * visit + baseline
fits <- list(
  us = lme(f, random = ~ 1 | therapist, data = d, method = "REML", control = ctl,
           correlation = corSymm(form = ~ visit_index | therapist/subject), weights = varIdent(form = ~ 1 | visit)),
  cs = lme(f, random = ~ 1 | therapist, data = d, method = "REML", control = ctl,
           correlation = corCompSymm(form = ~ 1 | therapist/subject)),
  ar1h = lme(f, random = ~ 1 | therapist, data = d, method = "REML", control = ctl,
             correlation = corAR1(form = ~ visit_index | therapist/subject), weights = varIdent(form = ~ 1 | visit))
)
full <- names(which(table(paste(d$therapist, d$subject, sep = "/")) == 4))[1]  # a subject with all four visits
summ <- function(fit) {
  R <- corMatrix(fit$modelStruct$corStruct)[[full]]
  ratio <- if (is.null(fit$modelStruct$varStruct)) rep(1, 4) else
    c(1, coef(fit$modelStruct$varStruct, unconstrained = FALSE))[match(levels(d$visit),
      c("week_2", names(coef(fit$modelStruct$varStruct, unconstrained = FALSE))))]
  sd <- fit$sigma * ratio
  list(loglik = as.numeric(logLik(fit)), names = names(fixef(fit)), coef = unname(fixef(fit)),
       se = unname(sqrt(diag(vcov(fit)))), tau2 = as.numeric(VarCorr(fit)[1, "Variance"]),
       residual_cov = unname(R * outer(sd, sd)))
}
out <- lapply(fits, summ)
# compound symmetry (rho >= 0) + therapist intercept is the crossed-free lmer model with a subject intercept:
# lmerTest's Satterthwaite df are the reference for ours
lm <- lmerTest::lmer(value ~ arm * visit + baseline + (1 | therapist) + (1 | subject), data = d, REML = TRUE,
                     control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10)))
co <- summary(lm)$coefficients
out$cs_lmer <- list(loglik = as.numeric(logLik(lm)), names = rownames(co), coef = unname(co[, "Estimate"]),
                    se = unname(co[, "Std. Error"]), df = unname(co[, "df"]))
for (k in names(out)) message(k, ": logLik ", format(out[[k]]$loglik, digits = 12), "  tau2 ", out[[k]]$tau2)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "therapist_reference.json")
