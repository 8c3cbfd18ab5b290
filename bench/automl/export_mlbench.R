# Writes the public datasets of the AutoML benchmark that Debian's R packages bundle as CSV files (bench/automl/prepare.py
# calls it): UCI sets from r-cran-mlbench, credit and churn sets from r-cran-modeldata, spam, musk and ticdata from
# r-cran-kernlab, the 1980 census fertility sample (254,654 rows) and the NMES 1988 doctor visits from r-cran-aer, diamonds
# from r-cran-ggplot2, mdrr (342 descriptors) from r-cran-caret. Chosen for spread (rows, columns, classes, categories, missing values, heavy tails), never by how any
# method does on them.
out <- commandArgs(trailingOnly = TRUE)[1]
save <- function(name, data) write.csv(data, file.path(out, paste0(name, ".csv")), row.names = FALSE, na = "")

library(mlbench)
data(PimaIndiansDiabetes2); save("pima", PimaIndiansDiabetes2)
data(Sonar); save("sonar", Sonar)
data(Ionosphere); Ionosphere$V2 <- NULL; save("ionosphere", Ionosphere)
data(Glass); save("glass", Glass)
data(Vehicle); save("vehicle", Vehicle)
data(BostonHousing); save("boston", BostonHousing)
data(HouseVotes84); save("votes", HouseVotes84)
data(Satellite); save("satellite", Satellite)
data(Soybean); save("soybean", Soybean)
data(BreastCancer); BreastCancer$Id <- NULL; save("breast_cancer_wisconsin", BreastCancer)
data(Vowel); save("vowel", Vowel)
data(Zoo); save("zoo", Zoo)
data(LetterRecognition); save("letter", LetterRecognition)
data(DNA); save("dna", DNA)
data(Shuttle); save("shuttle", Shuttle)
data(Servo); save("servo", Servo)
data(Ozone); save("ozone", Ozone)

library(modeldata)
data(credit_data); save("credit", credit_data)
data(attrition); save("attrition", attrition)
data(mlc_churn); save("churn", mlc_churn)
data(ames); save("ames", ames)
data(hpc_data); save("hpc", hpc_data)
data(concrete); save("concrete", concrete)
data(lending_club); save("lending_club", lending_club)
data(cells); cells$case <- NULL; save("cells", cells)

library(kernlab)
data(spam); save("spam", spam)
data(musk); save("musk", musk)
data(ticdata); save("ticdata", ticdata)

library(AER)
data(Fertility); save("fertility", Fertility)
data(NMES1988); save("nmes", NMES1988)

data(diamonds, package = "ggplot2"); save("diamonds", as.data.frame(diamonds))

data(mdrr, package = "caret"); mdrr <- mdrrDescr; mdrr$Activity <- mdrrClass; save("mdrr", mdrr)
