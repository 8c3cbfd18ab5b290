# Writes UCI datasets bundled in Debian's r-cran-mlbench as CSV files (bench/automl/prepare.py calls it).
library(mlbench)
out <- commandArgs(trailingOnly = TRUE)[1]
save <- function(name, data) write.csv(data, file.path(out, paste0(name, ".csv")), row.names = FALSE, na = "")
data(PimaIndiansDiabetes2); save("pima", PimaIndiansDiabetes2)
data(Sonar); save("sonar", Sonar)
data(Ionosphere); Ionosphere$V2 <- NULL; save("ionosphere", Ionosphere)
data(Glass); save("glass", Glass)
data(Vehicle); save("vehicle", Vehicle)
data(BostonHousing); save("boston", BostonHousing)
data(HouseVotes84); save("votes", HouseVotes84)
data(Satellite); save("satellite", Satellite)
data(Soybean); save("soybean", Soybean)
