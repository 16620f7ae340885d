# fit_mmrm(covariance_by=..., weights=...) against R's mmrm 0.3.18 on fev_like.csv (simulated by make_fev_like.py).
# Regenerate:  cd tests/reference/mmrm && R_LIBS=/work/Rlib Rscript grouped_reference.R   (writes grouped_reference.json)
# - grouped: a separate covariance per arm, `<structure>(visit | arm / subject)`, for every structure, with
#   Satterthwaite, Kenward-Roger and Kenward-Roger-Linear;
# - weighted: observation weights w = 0.5 + frac(baseline) + 0.25 * visit number (so they vary within subjects),
#   mmrm's `weights =` (Σ_i = W_i^-1/2 Σ W_i^-1/2), for us, cs, ar1h and toep, Satterthwaite and Kenward-Roger;
# - sandwich: grouped us with vcov = "Empirical" (CR0), Satterthwaite (Bell-McCaffrey) df; and weighted us CR0;
# - grouped and weighted together: us, Kenward-Roger.
# Each fit: coefficients, SEs, df, covariance(s), theta and its covariance, emmeans (arm | visit), TRT - PBO per
# visit and the joint F test of every arm term (df_md).
# mmrm's default optimizer (L-BFGS-B) stops up to about 1e-5 short of the REML optimum, which would hide
# differences of 1e-6, so every fit uses BFGS at reltol 1e-15.
suppressPackageStartupMessages({library(mmrm); library(emmeans); library(jsonlite)})
stopifnot(packageVersion("mmrm") == "0.3.18")
d <- read.csv("fev_like.csv")
d$arm <- factor(d$arm, levels = c("PBO", "TRT"))
d$visit <- factor(d$visit, levels = paste0("VIS", 1:4))
d$race <- factor(d$race)
d$sex <- factor(d$sex)
d$subject <- factor(d$subject)
d$w <- 0.5 + (d$baseline - floor(d$baseline)) + 0.25 * as.integer(d$visit)

structures <- c("us", "toep", "toeph", "ar1", "ar1h", "cs", "csh", "ad", "adh")
methods <- list(satterthwaite = list(method = "Satterthwaite", vcov = "Asymptotic"),
                kr = list(method = "Kenward-Roger", vcov = "Kenward-Roger"),
                kr_linear = list(method = "Kenward-Roger", vcov = "Kenward-Roger-Linear"))

one <- function(cov, m, grouped, weighted) {
  term <- if (grouped) sprintf("%s(visit | arm / subject)", cov) else sprintf("%s(visit | subject)", cov)
  f <- as.formula(paste("value ~ arm * visit + baseline + race + sex +", term))
  args <- list(formula = f, data = d, reml = TRUE, method = m$method, vcov = m$vcov, optimizer = "BFGS",
               optimizer_control = list(reltol = 1e-15, maxit = 5000))
  if (weighted) args$weights <- d$w
  fit <- do.call(mmrm, args)
  co <- summary(fit)$coefficients
  emm <- emmeans(fit, ~ arm | visit)
  e <- as.data.frame(summary(emm))
  ct <- as.data.frame(summary(contrast(emm, list(`TRT - PBO` = c(-1, 1)))))
  vc <- VarCorr(fit)
  cov_out <- if (is.list(vc)) lapply(vc, function(x) unname(as.matrix(x))) else unname(as.matrix(vc))
  # joint F test: no arm difference at any visit (the arm main effect and its interactions with visit)
  arm_terms <- grep("^armTRT", names(coef(fit)), value = TRUE)
  L <- matrix(0, length(arm_terms), length(coef(fit)), dimnames = list(NULL, names(coef(fit))))
  L[cbind(seq_along(arm_terms), match(arm_terms, names(coef(fit))))] <- 1
  jt <- df_md(fit, L)
  list(converged = fit$opt_details$convergence == 0, loglik = as.numeric(logLik(fit)),
       names = rownames(co), coef = unname(co[, "Estimate"]), se = unname(co[, "Std. Error"]),
       df = unname(co[, "df"]), covariance = cov_out,
       theta = unname(fit$theta_est), theta_vcov = unname(fit$theta_vcov),
       emmeans = list(arm = as.character(e$arm), visit = as.character(e$visit), estimate = e$emmean,
                      se = e$SE, df = e$df),
       contrast = list(visit = as.character(ct$visit), estimate = ct$estimate, se = ct$SE, df = ct$df),
       joint = list(terms = arm_terms, f = jt$f_stat, num_df = jt$num_df, denom_df = jt$denom_df, p = jt$p_val))
}
out <- list(n_obs = nrow(d), n_subjects = nlevels(d$subject), grouped = list(), weighted = list())
for (cov in structures) {
  out$grouped[[cov]] <- lapply(methods, function(m) one(cov, m, TRUE, FALSE))
  message("grouped ", cov, ": logLik ", format(out$grouped[[cov]]$satterthwaite$loglik, digits = 12))
}
for (cov in c("us", "cs", "ar1h", "toep")) {
  out$weighted[[cov]] <- lapply(methods[c("satterthwaite", "kr")], function(m) one(cov, m, FALSE, TRUE))
  message("weighted ", cov, ": logLik ", format(out$weighted[[cov]]$satterthwaite$loglik, digits = 12))
}
cr0 <- list(method = "Satterthwaite", vcov = "Empirical")
out$sandwich <- list(grouped_us = one("us", cr0, TRUE, FALSE), weighted_us = one("us", cr0, FALSE, TRUE))
out$grouped_weighted <- list(us = one("us", methods$kr, TRUE, TRUE))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = FALSE), "grouped_reference.json")
