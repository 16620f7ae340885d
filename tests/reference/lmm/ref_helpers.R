# Fit with lmerTest::lmer under several optimizers, keep the best, and summarise as a list.
ref_fit <- function(formula, data, reml, L = NULL) {
  fits <- list(
    bobyqa = lmerTest::lmer(formula, data, REML = reml, control = lmerControl(optimizer = "bobyqa")),
    nelder = lmerTest::lmer(formula, data, REML = reml, control = lmerControl(optimizer = "Nelder_Mead")),
    nlminb = lmerTest::lmer(formula, data, REML = reml,
                            control = lmerControl(optimizer = "optimx", optCtrl = list(method = "nlminb")))
  )
  fits <- Filter(Negate(is.null), fits)
  dev <- sapply(fits, function(f) if (reml) REMLcrit(f) else as.numeric(deviance(f)))
  best <- fits[[which.min(dev)]]
  co <- summary(best)$coefficients
  vc <- as.data.frame(VarCorr(best))
  res <- list(
    optimizer = names(fits)[which.min(dev)], deviances = as.list(dev),
    loglik = as.numeric(logLik(best)), aic = AIC(best), bic = BIC(best),
    theta = unname(getME(best, "theta")), sigma = sigma(best),
    terms = rownames(co), estimate = unname(co[, "Estimate"]), se = unname(co[, "Std. Error"]),
    df = unname(co[, "df"]),
    vc_grp = vc$grp, vc_var1 = vc$var1, vc_var2 = vc$var2, vc_vcov = vc$vcov, vc_sdcor = vc$sdcor
  )
  if (!is.null(L)) {
    ct <- lmerTest::contest(best, L, joint = FALSE, ddf = "Satterthwaite")
    res$L_estimate <- ct$Estimate; res$L_se <- ct[["Std. Error"]]; res$L_df <- ct$df
  }
  if (requireNamespace("pbkrtest", quietly = TRUE) && reml) {
    kr <- tryCatch(summary(best, ddf = "Kenward-Roger")$coefficients, error = function(e) NULL)
    if (!is.null(kr)) { res$kr_se <- unname(kr[, "Std. Error"]); res$kr_df <- unname(kr[, "df"]) }
  }
  res
}
