# Reference numbers for tests/effects/test_reference_r.py.
# Regenerate (from the repository root):
#   Rscript tests/reference/effects/effectsize_reference.R > tests/reference/effects/effectsize_reference.json
# R 4 with effectsize 0.8.3 (no repeated_measures_d in this version) and metafor 3.8-1.
suppressPackageStartupMessages({library(effectsize); library(metafor); library(jsonlite)})

between <- list(
  unequal = list(x = c(5.1, 6.3, 4.8, 7.2, 6.6, 5.9, 6.1, 7.4, 5.5, 6.8),
                 y = c(4.2, 5.0, 4.9, 3.8, 5.6, 4.4, 5.1, 4.7, 6.0, 3.9, 4.6, 5.3)),
  tiny = list(x = c(3, 5, 4), y = c(6, 9)),
  moderate = list(x = c(12, 15, 11, 18, 14, 16, 13, 17, 15, 12, 19, 14, 16, 13, 15, 18, 11, 14, 16, 15,
                        13, 17, 12, 16, 14),
                  y = c(10, 13, 9, 12, 11, 14, 10, 12, 13, 9, 11, 12, 10, 14, 11, 13, 12, 10, 11, 13,
                        12, 9, 11, 10, 12, 13, 11, 10, 12, 14)),
  small_effect = list(x = c(2.1, 3.4, 2.9, 3.8, 2.5, 3.1, 2.7, 3.3),
                      y = c(2.4, 3.0, 2.8, 3.6, 2.2, 3.5, 2.6, 3.1))
)
paired <- list(
  p10 = list(pre = c(7, 6, 8, 5, 7, 6, 9, 7, 6, 8), post = c(5, 5, 6, 4, 6, 3, 7, 6, 5, 5)),
  p4 = list(pre = c(6, 8, 5, 7), post = c(5, 6, 5, 4)),
  p30 = list(pre = c(14, 12, 18, 9, 15, 16, 11, 13, 17, 10, 12, 14, 19, 8, 13, 15, 16, 12, 11, 14,
                     17, 13, 10, 15, 12, 16, 14, 11, 13, 18),
             post = c(10, 11, 12, 8, 9, 14, 10, 9, 12, 9, 8, 13, 14, 8, 10, 11, 13, 10, 7, 12,
                      12, 11, 9, 10, 9, 12, 11, 10, 9, 13))
)

# exact ncp interval by root finding (to show how close effectsize's optim() gets)
ncp_ci <- function(t, df, level = 0.95) {
  a <- 1 - level
  f <- function(ncp, p) pt(t, df, ncp) - p
  c(uniroot(f, c(t - 40, t + 40), p = 1 - a / 2, tol = 1e-13)$root,
    uniroot(f, c(t - 40, t + 40), p = a / 2, tol = 1e-13)$root)
}

row <- function(es) c(estimate = es[[1]], ci_low = es$CI_low, ci_high = es$CI_high)
out <- list(between = list(), paired = list())
for (nm in names(between)) {
  x <- between[[nm]]$x; y <- between[[nm]]$y
  n1 <- length(x); n2 <- length(y)
  sp <- sqrt(((n1 - 1) * var(x) + (n2 - 1) * var(y)) / (n1 + n2 - 2))
  d <- (mean(x) - mean(y)) / sp
  hn <- 1 / n1 + 1 / n2
  u <- ncp_ci(d / sqrt(hn), n1 + n2 - 2) * sqrt(hn)
  u90 <- ncp_ci(d / sqrt(hn), n1 + n2 - 2, 0.90) * sqrt(hn)
  J <- exp(lgamma((n1 + n2 - 2) / 2) - log(sqrt((n1 + n2 - 2) / 2)) - lgamma((n1 + n2 - 3) / 2))
  hg <- 1 / n2 + var(x) / (n1 * var(y))
  ug <- ncp_ci((mean(x) - mean(y)) / sd(y) / sqrt(hg), n2 - 1) * sqrt(hg)
  smd <- escalc("SMD", m1i = mean(x), m2i = mean(y), sd1i = sd(x), sd2i = sd(y), n1i = n1, n2i = n2)
  smd_ub <- escalc("SMD", m1i = mean(x), m2i = mean(y), sd1i = sd(x), sd2i = sd(y), n1i = n1, n2i = n2,
                   vtype = "UB")
  tt <- t.test(x, y)
  out$between[[nm]] <- list(
    x = x, y = y,
    cohens_d = as.list(row(cohens_d(x, y))),
    hedges_g = as.list(row(hedges_g(x, y))),
    glass_delta = as.list(row(glass_delta(x, y))),
    cohens_d_90 = as.list(row(cohens_d(x, y, ci = 0.90))),
    cohens_d_uniroot = list(ci_low = u[1], ci_high = u[2]),
    cohens_d_90_uniroot = list(ci_low = u90[1], ci_high = u90[2]),
    hedges_g_uniroot = list(ci_low = J * u[1], ci_high = J * u[2]),
    glass_delta_uniroot = list(ci_low = ug[1], ci_high = ug[2]),
    metafor_smd = list(yi = as.numeric(smd$yi), vi = as.numeric(smd$vi)),
    metafor_smd_ub = list(yi = as.numeric(smd_ub$yi), vi = as.numeric(smd_ub$vi)),
    welch = list(estimate = unname(tt$estimate[1] - tt$estimate[2]), ci_low = tt$conf.int[1],
                 ci_high = tt$conf.int[2], p_value = tt$p.value, df = unname(tt$parameter))
  )
}
for (nm in names(paired)) {
  pre <- paired[[nm]]$pre; post <- paired[[nm]]$post
  n <- length(pre); r <- cor(pre, post)
  smcc <- escalc("SMCC", m1i = mean(post), m2i = mean(pre), sd1i = sd(post), sd2i = sd(pre), ni = n, ri = r)
  smcr <- escalc("SMCR", m1i = mean(post), m2i = mean(pre), sd1i = sd(pre), ni = n, ri = r)
  tt <- t.test(post, pre, paired = TRUE)
  dz <- mean(post - pre) / sd(post - pre)
  uz <- ncp_ci(dz * sqrt(n), n - 1) / sqrt(n)
  Jz <- exp(lgamma((n - 1) / 2) - log(sqrt((n - 1) / 2)) - lgamma((n - 2) / 2))
  out$paired[[nm]] <- list(
    pre = pre, post = post,
    cohens_d = as.list(row(cohens_d(post, pre, paired = TRUE))),
    hedges_g = as.list(row(hedges_g(post, pre, paired = TRUE))),
    cohens_d_uniroot = list(ci_low = uz[1], ci_high = uz[2]),
    # Lakens (2013) definitions, hand-coded (effectsize 0.8.3 has no repeated_measures_d)
    lakens = list(
      d_av = mean(post - pre) / ((sd(pre) + sd(post)) / 2),
      d_rm = mean(post - pre) / sqrt(var(pre) + var(post) - 2 * r * sd(pre) * sd(post)) * sqrt(2 * (1 - r)),
      J = Jz
    ),
    hedges_g_uniroot = list(ci_low = Jz * uz[1], ci_high = Jz * uz[2]),
    metafor_smcc = list(yi = as.numeric(smcc$yi), vi = as.numeric(smcc$vi)),
    metafor_smcr = list(yi = as.numeric(smcr$yi), vi = as.numeric(smcr$vi)),
    t_test = list(estimate = unname(tt$estimate), ci_low = tt$conf.int[1], ci_high = tt$conf.int[2],
                  p_value = tt$p.value)
  )
}

# ANCOVA: follow-up ~ baseline + group (lm), coefficient for group a versus b
anc <- data.frame(
  base = c(14, 12, 18, 9, 15, 16, 11, 13, 17, 10, 12, 14, 19, 8, 13, 15, 16, 12, 11, 14, 17, 13),
  fu = c(10, 11, 12, 8, 9, 14, 10, 9, 12, 9, 8, 13, 16, 8, 12, 14, 15, 11, 11, 13, 15, 12),
  grp = c(rep("a", 12), rep("b", 10))
)
anc$grp <- factor(anc$grp, levels = c("b", "a"))
fit <- lm(fu ~ base + grp, data = anc)
ci <- confint(fit)["grpa", ]
out$ancova <- list(
  base = anc$base, fu = anc$fu, grp = as.character(anc$grp),
  estimate = unname(coef(fit)["grpa"]), se = summary(fit)$coefficients["grpa", 2],
  ci_low = unname(ci[1]), ci_high = unname(ci[2]), p_value = summary(fit)$coefficients["grpa", 4],
  sigma = summary(fit)$sigma, df = fit$df.residual
)
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE))
