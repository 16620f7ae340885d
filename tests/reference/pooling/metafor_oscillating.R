# A set where metafor's Fisher scoring (REML, default control) oscillates and rma() stops with
# "Fisher scoring algorithm did not converge"; pool() then maximizes the REML likelihood directly.
# Reference: rma with stepadj = 0.5 and threshold = 1e-10 (converges). Run: Rscript tests/reference/pooling/metafor_oscillating.R
suppressPackageStartupMessages(library(metafor))
yi <- c(0.2559644633259406, 0.01341909715673606, 0.24857705816163778, 0.286827993689835, 0.15495581387149113, 0.1966627080415596, -0.02215425887588124, 0.5263654661250543, -0.2518773299455998, 0.22160077319712745)
sei <- c(0.4727208986716236, 0.38890696723723306, 0.2104048456943971, 0.2315598649701273, 0.26036938961316913, 0.4129362395282753, 0.34756521599978424, 0.4794210295461644, 0.1289161413290963, 0.1809873898280479)
print(try(rma(yi, sei = sei, method = "REML"), silent = TRUE)[1])
fit <- rma(yi, sei = sei, method = "REML", control = list(stepadj = 0.5, threshold = 1e-10))
cat(sprintf("tau2 = %.15g\nestimate = %.15g\nse = %.15g\n", fit$tau2, fit$beta, fit$se))
