# MMRM references: nlme::gls with unstructured / CS / AR(1) / Toeplitz residual covariance over visits.
# Regenerate:  cd tests/reference/mmrm && Rscript gls_reference.R   (writes gls_reference.json)
suppressPackageStartupMessages({library(nlme); library(jsonlite)})
d <- read.csv("trial.csv")
d$arm <- factor(d$arm, levels = c("relaxation", "therapeutic", "usual_care"))
d$visit <- factor(d$visit, levels = c("week_4", "week_10", "week_26"))
d$sex <- factor(d$sex)
ctl <- glsControl(tolerance = 1e-12, msTol = 1e-14, maxIter = 1000, msMaxIter = 1000, returnObject = TRUE,
                  optimMethod = "BFGS")

# two optimizers (nlminb, optim/BFGS); keep the higher log-likelihood (nlme's defaults stop a little early)
fit_one <- function(formula, corr, weights, method = "REML") {
  fits <- lapply(c("nlminb", "optim"), function(o) {
    ctl$opt <- o
    tryCatch(gls(formula, data = d, correlation = corr, weights = weights, method = method, control = ctl,
                 na.action = na.omit), error = function(e) NULL)
  })
  fits <- Filter(Negate(is.null), fits)
  ll <- sapply(fits, function(f) as.numeric(logLik(f)))
  message(deparse(substitute(corr))[1], ": logLik by optimizer ", paste(format(ll, digits = 12), collapse = " / "))
  fits[[which.max(ll)]]
}
summ <- function(f) {
  V <- getVarCov(f, individual = "S001")  # S001 has all three visits
  list(loglik = as.numeric(logLik(f)), aic = AIC(f), bic = BIC(f),
       coef = unname(coef(f)), names = names(coef(f)), se = unname(sqrt(diag(vcov(f)))),
       vcov = unname(as.matrix(vcov(f))), sigma_matrix = unname(matrix(as.numeric(V), nrow(V))),
       sigma = f$sigma, df_residual = f$dims$N - f$dims$p, n = f$dims$N)
}
m1 <- value ~ baseline + arm * visit
out <- list()
out$us <- summ(fit_one(m1, corSymm(form = ~ visit_index | subject), varIdent(form = ~ 1 | visit)))
out$us_ml <- summ(fit_one(m1, corSymm(form = ~ visit_index | subject), varIdent(form = ~ 1 | visit), "ML"))
out$cs <- summ(fit_one(m1, corCompSymm(form = ~ visit_index | subject), varIdent(form = ~ 1 | visit)))
out$cs_hom <- summ(fit_one(m1, corCompSymm(form = ~ visit_index | subject), NULL))
out$ar1 <- summ(fit_one(m1, corAR1(form = ~ visit_index | subject), varIdent(form = ~ 1 | visit)))
out$toep <- summ(fit_one(m1, corARMA(form = ~ visit_index | subject, p = 2), varIdent(form = ~ 1 | visit)))
out$ar1_hom <- summ(fit_one(m1, corAR1(form = ~ visit_index | subject), NULL))
out$toep_hom <- summ(fit_one(m1, corARMA(form = ~ visit_index | subject, p = 2), NULL))
out$toep_ml <- summ(fit_one(m1, corARMA(form = ~ visit_index | subject, p = 2), varIdent(form = ~ 1 | visit), "ML"))
m2 <- value ~ baseline * visit + arm * visit + sex
out$us_cov <- summ(fit_one(m2, corSymm(form = ~ visit_index | subject), varIdent(form = ~ 1 | visit)))
# the log|X'X|/2 term nlme leaves out of (or puts into) its REML log-likelihood
X <- model.matrix(m1, d)
out$half_logdet_xtx <- as.numeric(determinant(crossprod(X))$modulus) / 2
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "gls_reference.json")
print(sapply(out[sapply(out, is.list)], function(o) o$loglik))
