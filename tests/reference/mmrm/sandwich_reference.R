# fit_mmrm(vcov="empirical"...) against R's mmrm 0.3.18 on fev_like.csv (simulated by make_fev_like.py).
# Regenerate:  cd tests/reference/mmrm && R_LIBS=/work/Rlib Rscript sandwich_reference.R   (writes sandwich_reference.json)
# Per covariance structure and sandwich (vcov = "Empirical" CR0, "Empirical-Bias-Reduced" CR2,
# "Empirical-Jackknife" CR3), with method = "Satterthwaite" (mmrm's empirical df) and "Residual" (n_obs - p):
# coefficients, SEs, df, emmeans' TRT - PBO per visit, and the joint F test of every arm term (df_md).
suppressPackageStartupMessages({library(mmrm); library(emmeans); library(jsonlite)})
stopifnot(packageVersion("mmrm") == "0.3.18")
d <- read.csv("fev_like.csv")
d$arm <- factor(d$arm, levels = c("PBO", "TRT"))
d$visit <- factor(d$visit, levels = paste0("VIS", 1:4))
d$race <- factor(d$race)
d$sex <- factor(d$sex)
d$subject <- factor(d$subject)

structures <- c("us", "toep", "ar1", "cs")
vcovs <- c(empirical = "Empirical", `empirical-bias-reduced` = "Empirical-Bias-Reduced",
           `empirical-jackknife` = "Empirical-Jackknife")
methods <- c(satterthwaite = "Satterthwaite", residual = "Residual")

one <- function(cov, v, m) {
  f <- as.formula(sprintf("value ~ arm * visit + baseline + race + sex + %s(visit | subject)", cov))
  fit <- mmrm(f, data = d, reml = TRUE, method = m, vcov = v)
  co <- summary(fit)$coefficients
  emm <- emmeans(fit, ~ arm | visit)
  ct <- as.data.frame(summary(contrast(emm, list(`TRT - PBO` = c(-1, 1)))))
  arm_terms <- grep("^armTRT", names(coef(fit)), value = TRUE)
  L <- matrix(0, length(arm_terms), length(coef(fit)), dimnames = list(NULL, names(coef(fit))))
  L[cbind(seq_along(arm_terms), match(arm_terms, names(coef(fit))))] <- 1
  jt <- df_md(fit, L)
  list(loglik = as.numeric(logLik(fit)), names = rownames(co), coef = unname(co[, "Estimate"]),
       se = unname(co[, "Std. Error"]), df = unname(co[, "df"]),
       contrast = list(visit = as.character(ct$visit), estimate = ct$estimate, se = ct$SE, df = ct$df),
       joint = list(terms = arm_terms, f = jt$f_stat, num_df = jt$num_df, denom_df = jt$denom_df, p = jt$p_val))
}
out <- list(n_obs = nrow(d), n_subjects = nlevels(d$subject))
for (cov in structures) {
  out[[cov]] <- lapply(vcovs, function(v) lapply(methods, function(m) one(cov, v, m)))
  message(cov, " done")
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = FALSE), "sandwich_reference.json")
