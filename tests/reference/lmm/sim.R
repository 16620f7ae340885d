# Reference numbers for tests/trajectories/test_lmm_reference.py on simulated massage-trial data.
# Data: python make_sim_data.py (trial.csv from mo.simulate_trial, levels.csv with therapist x clinic levels).
# Regenerate: cd tests/reference/lmm && Rscript sim.R   (writes sim_ref.json)
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
source("ref_helpers.R")
trial <- read.csv("trial.csv")
trial$arm <- factor(trial$arm)
trial$fweek <- factor(trial$week)
trial$week_after10 <- pmax(trial$week - 10, 0)
lev <- read.csv("levels.csv")
lev$arm <- factor(lev$arm)
L_lin <- rbind(c(0, 1, -1, 0, 26, -26), c(0, 1, 0, 0, 10, 0), c(0, 0, 0, 1, 0.5, 0.5))
out <- list()
for (reml in c(TRUE, FALSE)) {
  tag <- if (reml) "REML" else "ML"
  out[[paste0("trial_intercept_", tag)]] <- ref_fit(value ~ arm * week + (1 | subject), trial, reml, L_lin)
  out[[paste0("trial_slope_", tag)]] <- ref_fit(value ~ arm * week + (week | subject), trial, reml, L_lin)
  out[[paste0("levels_slope_", tag)]] <- ref_fit(
    value ~ arm * week + (week | subject) + (1 | therapist) + (1 | clinic), lev, reml, L_lin)
}
out[["trial_factor_REML"]] <- ref_fit(value ~ arm * fweek + (1 | subject), trial, TRUE)
out[["trial_piecewise_REML"]] <- ref_fit(value ~ arm * (week + week_after10) + (week | subject), trial, TRUE)
out[["levels_uncorrelated_REML"]] <- ref_fit(value ~ arm * week + (week || subject) + (1 | therapist), lev, TRUE)
write_json(out, "sim_ref.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
