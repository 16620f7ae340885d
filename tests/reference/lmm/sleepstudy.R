# Reference numbers for tests/trajectories/test_lmm_reference.py: lme4 + lmerTest on sleepstudy.
# Regenerate: cd tests/reference/lmm && Rscript sleepstudy.R   (writes sleepstudy.csv and sleepstudy_ref.json)
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
write.csv(sleepstudy, "sleepstudy.csv", row.names = FALSE)
source("ref_helpers.R")
models <- list(
  intercept = Reaction ~ Days + (1 | Subject),
  slope = Reaction ~ Days + (Days | Subject),
  uncorrelated = Reaction ~ Days + (Days || Subject)
)
out <- list()
for (nm in names(models)) for (reml in c(TRUE, FALSE)) {
  out[[paste(nm, if (reml) "REML" else "ML", sep = "_")]] <- ref_fit(models[[nm]], sleepstudy, reml)
}
# conditional modes (BLUPs) of the correlated-slope REML fit
best <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE, control = lmerControl(optimizer = "bobyqa"))
re <- ranef(best)$Subject
out$slope_REML$ranef_subject <- rownames(re)
out$slope_REML$ranef_intercept <- unname(re[["(Intercept)"]])
out$slope_REML$ranef_slope <- unname(re[["Days"]])
write_json(out, "sleepstudy_ref.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
