# emmeans references for the MarginalMeansMixin.
# Regenerate:  cd tests/reference/emmeans && Rscript emmeans_reference.R   (writes emmeans_reference.json)
#   1. lm on sleepstudy with a group factor, a 2-level factor and a covariate: exact df (df.error)
#   2. lmer (Days | Subject) with lmerTest Satterthwaite df (the lmm helper's TrajectoryFit)
#   3. nlme::gls MMRM (unstructured, varIdent) on ../mmrm/trial.csv
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(emmeans); library(nlme); library(jsonlite)})
emm_options(opt.digits = FALSE)
tab <- function(x) { s <- as.data.frame(summary(x, infer = c(TRUE, TRUE))); s }

ss <- lme4::sleepstudy
idx <- as.integer(ss$Subject)
ss$grp <- factor(c("a", "b", "c")[(idx - 1) %% 3 + 1])
ss$site <- factor(c("x", "y")[(idx %/% 2) %% 2 + 1])
ss$age <- 20 + 1.5 * idx + (idx %% 4)
write.csv(ss, "sleepstudy_groups.csv", row.names = FALSE)
out <- list()

# ---- 1. lm ----
f_lm <- lm(Reaction ~ Days * grp + site + age, data = ss)
at <- list(Days = c(0, 4.5, 9))
e <- emmeans(f_lm, ~ grp | Days, at = at)
out$lm <- list(
  coef = unname(coef(f_lm)), sigma = sigma(f_lm), df = df.residual(f_lm),
  emmeans = tab(e),
  pairs_tukey = tab(pairs(e, adjust = "tukey")),
  pairs_holm = tab(pairs(e, adjust = "holm")),
  pairs_bonf = tab(pairs(e, adjust = "bonferroni")),
  trt_vs_c = tab(contrast(e, "trt.vs.ctrl", ref = "c", adjust = "holm")),
  trt_vs_c_sidak = tab(contrast(e, "trt.vs.ctrl", ref = "c", adjust = "sidak")),
  eff = tab(eff_size(e, sigma = sigma(f_lm), edf = df.residual(f_lm))),
  emm_site = tab(emmeans(f_lm, ~ grp | Days + site, at = at)),
  trends = tab(emtrends(f_lm, ~ grp, var = "Days")),
  trend_pairs = tab(pairs(emtrends(f_lm, ~ grp, var = "Days"), adjust = "tukey")),
  joint = as.data.frame(test(contrast(e, "pairwise"), joint = TRUE, by = "Days"))
)

# ---- 2. lmer with Satterthwaite ----
fits <- lapply(c("bobyqa", "Nelder_Mead"), function(o)
  lmerTest::lmer(Reaction ~ Days * grp + (Days | Subject), data = ss, REML = TRUE,
                 control = lmerControl(optimizer = o, optCtrl = list(maxfun = 1e5))))
f_lmer <- fits[[which.max(sapply(fits, function(f) as.numeric(logLik(f))))]]
e2 <- emmeans(f_lmer, ~ grp | Days, at = at, lmer.df = "satterthwaite")
vc <- as.data.frame(VarCorr(f_lmer))
out$lmer <- list(
  loglik = as.numeric(logLik(f_lmer)), coef = unname(fixef(f_lmer)), sigma = sigma(f_lmer),
  emmeans = tab(e2),
  pairs_tukey = tab(pairs(e2, adjust = "tukey")),
  pairs_holm = tab(pairs(e2, adjust = "holm")),
  eff = tab(eff_size(e2, sigma = sigma(f_lmer), edf = 15)),
  trends = tab(emtrends(f_lmer, ~ grp, var = "Days", lmer.df = "satterthwaite")),
  trend_pairs = tab(pairs(emtrends(f_lmer, ~ grp, var = "Days", lmer.df = "satterthwaite"), adjust = "holm")),
  contest_day0 = as.data.frame(lmerTest::contest(f_lmer, rbind(e2@linfct[1, ] - e2@linfct[2, ],
                                                               e2@linfct[1, ] - e2@linfct[3, ]), joint = TRUE))
)

# ---- 3. gls MMRM ----
d <- read.csv("../mmrm/trial.csv")
d$arm <- factor(d$arm, levels = c("relaxation", "therapeutic", "usual_care"))
d$visit <- factor(d$visit, levels = c("week_4", "week_10", "week_26"))
d$sex <- factor(d$sex)
ctl <- glsControl(tolerance = 1e-12, msTol = 1e-14, maxIter = 1000, msMaxIter = 1000, opt = "optim",
                  optimMethod = "BFGS")
g <- gls(value ~ baseline * visit + arm * visit + sex, data = d,
         correlation = corSymm(form = ~ visit_index | subject), weights = varIdent(form = ~ 1 | visit),
         method = "REML", control = ctl)
res <- list(loglik = as.numeric(logLik(g)), sigma = g$sigma, df_residual = g$dims$N - g$dims$p)
for (mode in c("satterthwaite", "df.error", "appx-satterthwaite")) {
  eg <- emmeans(g, ~ arm | visit, mode = mode)
  res[[paste0("emmeans_", gsub("[.-]", "_", mode))]] <- tab(eg)
}
eg <- emmeans(g, ~ arm | visit, mode = "satterthwaite")
res$pairs_tukey <- tab(pairs(eg, adjust = "tukey"))
res$trt_vs_uc <- tab(contrast(eg, "trt.vs.ctrl", ref = "usual_care", adjust = "holm"))
res$eff <- tab(eff_size(eg, sigma = g$sigma, edf = g$dims$N - g$dims$p))
out$gls <- res
writeLines(toJSON(out, digits = NA, pretty = TRUE, auto_unbox = TRUE), "emmeans_reference.json")
print(out$gls$emmeans_satterthwaite)
print(out$gls$emmeans_appx_satterthwaite)
print(out$lmer$eff)
print(out$lmer$pairs_tukey)
