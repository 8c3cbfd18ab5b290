using Stratus.Ml.Training;

namespace Stratus.Ml.Tests.Training;

public sealed class ModelMetricsTests
{
    [Fact]
    public void Should_compute_binary_metrics_with_tied_scores_as_scikit_learn_does()
    {
        float[] labels = [0, 0, 1, 1, 0, 1, 0];
        double[] p = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.9];

        var (metrics, confusion) = ModelMetrics.Compute(MlTask.BinaryClassification, labels, p, 2);

        // Worked by hand: 6 of 12 positive/negative pairs ordered right (ties count half); AP = 1/6 + 2/15 + 1/6.
        Assert.Equal(0.5, metrics["auc"], 12);
        Assert.Equal(14.0 / 30, metrics["pr_auc"], 12);
        Assert.Equal(0.802693323410128, metrics["log_loss"], 12);
        Assert.Equal(4.0 / 7, metrics["accuracy"], 12); // p >= 0.5: rows 3 and 6 predicted positive
        Assert.Equal(0.4, metrics["f1"], 12); // precision 1/2, recall 1/3
        Assert.Equal([[3L, 1L], [2L, 1L]], confusion);
    }

    [Fact]
    public void Should_leave_auc_undefined_when_one_class_is_absent()
    {
        var (metrics, _) = ModelMetrics.Compute(MlTask.BinaryClassification, [1, 1, 1], [0.2, 0.9, 0.6], 2);
        Assert.True(double.IsNaN(metrics["auc"]));
        Assert.Equal(2.0 / 3, metrics["accuracy"], 12);
    }

    [Fact]
    public void Should_compute_multiclass_accuracy_macro_accuracy_and_log_loss()
    {
        float[] labels = [0, 1, 2, 2];
        double[] scores = [0.7, 0.2, 0.1, 0.3, 0.4, 0.3, 0.1, 0.1, 0.8, 0.5, 0.2, 0.3];

        var (metrics, confusion) = ModelMetrics.Compute(MlTask.MulticlassClassification, labels, scores, 3);

        Assert.Equal(0.75, metrics["accuracy"], 12);
        Assert.Equal((1 + 1 + 0.5) / 3, metrics["macro_accuracy"], 12);
        Assert.Equal(-(Math.Log(0.7) + Math.Log(0.4) + Math.Log(0.8) + Math.Log(0.3)) / 4, metrics["log_loss"], 12);
        Assert.Equal([[1L, 0L, 0L], [0L, 1L, 0L], [1L, 0L, 1L]], confusion);
    }

    [Fact]
    public void Should_compute_regression_errors_and_r2()
    {
        var (metrics, confusion) = ModelMetrics.Compute(MlTask.Regression, [3, -0.5f, 2, 7], [2.5, 0, 2, 8], 0);
        Assert.Null(confusion);
        Assert.Equal(0.6123724356957945, metrics["rmse"], 12);
        Assert.Equal(0.5, metrics["mae"], 12);
        Assert.Equal(0.9486081370449679, metrics["r2"], 12);
    }
}
