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

    [Theory]
    [InlineData("binary")]
    [InlineData("multiclass")]
    [InlineData("regression")]
    public void Should_report_exactly_the_catalogs_validation_metrics_and_judge_each_in_its_direction(string taskName)
    {
        var task = MlTasks.Parse(taskName)!.Value;
        // Two rows scored perfectly, then the same rows scored worse: every metric must move the way the catalog says.
        float[] labels = task == MlTask.Regression ? [1f, 3f, 2f, 5f] : task == MlTask.MulticlassClassification ? [0f, 1f, 2f, 1f] : [0f, 1f, 0f, 1f];
        var classes = task == MlTask.MulticlassClassification ? 3 : 2;
        double[] Scores(double noise) => task switch
        {
            MlTask.Regression => [.. labels.Select((y, i) => y + (i % 2 == 0 ? noise : -noise))],
            MlTask.MulticlassClassification => [.. labels.SelectMany((y, i) => Enumerable.Range(0, classes).Select(c => c == (int)y ? 0.9 - noise : (0.1 + noise) / (classes - 1)))],
            _ => [.. labels.Select((y, i) => y > 0.5 ? 0.9 - noise : 0.1 + noise)],
        };
        var (good, _) = ModelMetrics.Compute(task, labels, Scores(0), classes);
        var (bad, _) = ModelMetrics.Compute(task, labels, Scores(0.6), classes);
        Assert.Equal(MetricCatalog.For(taskName).Order(), good.Keys.Order());
        foreach (var name in good.Keys)
        {
            if (good[name] == bad[name]) continue; // unmoved by this noise (accuracy of a rank-preserving change)
            Assert.True(MetricCatalog.HigherIsBetter(name) == good[name] > bad[name], $"{name}: {good[name]} on perfect scores, {bad[name]} on worse ones");
        }
        Assert.Contains(MetricCatalog.Primary(taskName), good.Keys);
        Assert.Contains(MetricCatalog.SearchDefault(taskName), good.Keys);
    }
}
