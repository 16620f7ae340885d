# fit_mmrm against R's mmrm 0.3.18 on fev_like.csv (simulated by make_fev_like.py; shaped like mmrm's fev_data).
# Regenerate:  cd tests/reference/mmrm && R_LIBS=/work/Rlib Rscript mmrm_reference.R   (writes mmrm_reference.json)
# Per covariance structure: Satterthwaite, Kenward-Roger and Kenward-Roger-Linear fits (the same REML optimum):
# coefficients, SEs and df, log-likelihood, covariance, theta_vcov, emmeans (arm | visit), TRT - PBO per visit and
# the joint F test of every arm term (df_md).
suppressPackageStartupMessages({library(mmrm); library(emmeans); library(jsonlite)})
stopifnot(packageVersion("mmrm") == "0.3.18")
d <- read.csv("fev_like.csv")
d$arm <- factor(d$arm, levels = c("PBO", "TRT"))
d$visit <- factor(d$visit, levels = paste0("VIS", 1:4))
d$race <- factor(d$race)
d$sex <- factor(d$sex)
d$subject <- factor(d$subject)

structures <- c("us", "toep", "toeph", "ar1", "ar1h", "cs", "csh", "ad", "adh")
methods <- list(satterthwaite = list(method = "Satterthwaite", vcov = "Asymptotic"),
                kr = list(method = "Kenward-Roger", vcov = "Kenward-Roger"),
                kr_linear = list(method = "Kenward-Roger", vcov = "Kenward-Roger-Linear"))

one <- function(cov, m) {
  f <- as.formula(sprintf("value ~ arm * visit + baseline + race + sex + %s(visit | subject)", cov))
  fit <- mmrm(f, data = d, reml = TRUE, method = m$method, vcov = m$vcov)
  co <- summary(fit)$coefficients
  emm <- emmeans(fit, ~ arm | visit)
  e <- as.data.frame(summary(emm))
  ct <- as.data.frame(summary(contrast(emm, list(`TRT - PBO` = c(-1, 1)))))
  # joint F test: no arm difference at any visit (the arm main effect and its interactions with visit)
  arm_terms <- grep("^armTRT", names(coef(fit)), value = TRUE)
  L <- matrix(0, length(arm_terms), length(coef(fit)), dimnames = list(NULL, names(coef(fit))))
  L[cbind(seq_along(arm_terms), match(arm_terms, names(coef(fit))))] <- 1
  jt <- df_md(fit, L)
  list(converged = fit$opt_details$convergence == 0, loglik = as.numeric(logLik(fit)),
       names = rownames(co), coef = unname(co[, "Estimate"]), se = unname(co[, "Std. Error"]),
       df = unname(co[, "df"]), covariance = unname(as.matrix(VarCorr(fit))),
       theta = unname(fit$theta_est), theta_vcov = unname(fit$theta_vcov),
       emmeans = list(arm = as.character(e$arm), visit = as.character(e$visit), estimate = e$emmean,
                      se = e$SE, df = e$df),
       contrast = list(visit = as.character(ct$visit), estimate = ct$estimate, se = ct$SE, df = ct$df),
       joint = list(terms = arm_terms, f = jt$f_stat, num_df = jt$num_df, denom_df = jt$denom_df, p = jt$p_val))
}
out <- list(n_obs = nrow(d), n_subjects = nlevels(d$subject))
for (cov in structures) {
  out[[cov]] <- lapply(methods, function(m) one(cov, m))
  message(cov, ": logLik ", format(out[[cov]]$satterthwaite$loglik, digits = 12))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = FALSE), "mmrm_reference.json")
