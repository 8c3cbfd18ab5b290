using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Stratus;
using Stratus.Client;

/// <summary>`stratus train` as a job (export, featurize, LightGBM, holdout, package, register) vs ML.NET's LightGBM called directly.</summary>
internal static class TrainBenchmark
{
    public static async Task RunAsync(StratusClient client, string work, int rows)
    {
        var csv = Path.Combine(work, "train.csv");
        BenchData.WriteTransactions(csv, rows);
        await client.Datasets.UploadAsync("bench-train", csv);
        Console.WriteLine($"train: {rows:N0} rows, LightGBM 100 trees, 20% holdout, best of 3");

        var reference = TimeSpan.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            var ml = new MLContext(42);
            var data = ml.Data.LoadFromTextFile(csv, [
                new TextLoader.Column("amount", DataKind.Single, 1), new TextLoader.Column("merchant_category", DataKind.String, 2),
                new TextLoader.Column("hour", DataKind.Single, 3), new TextLoader.Column("distance_km", DataKind.Single, 4),
                new TextLoader.Column("card_present", DataKind.Single, 5), new TextLoader.Column("customer_age", DataKind.Single, 6),
                new TextLoader.Column("Label", DataKind.Boolean, 7)], separatorChar: ',', hasHeader: true);
            var split = ml.Data.TrainTestSplit(data, 0.2, seed: 42);
            var pipeline = ml.Transforms.Categorical.OneHotEncoding("category", "merchant_category")
                .Append(ml.Transforms.Concatenate("Features", "amount", "category", "hour", "distance_km", "card_present", "customer_age"))
                .Append(ml.BinaryClassification.Trainers.LightGbm(numberOfIterations: 100));
            var model = pipeline.Fit(split.TrainSet);
            ml.BinaryClassification.Evaluate(model.Transform(split.TestSet));
            reference = TimeSpan.FromTicks(Math.Min(reference.Ticks, stopwatch.Elapsed.Ticks));
        }

        var stratus = TimeSpan.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            var job = await client.Jobs.TrainAsync(new TrainRequest("bench-train", "fraud", Exclude: ["id"], Register: "bench-train-model"));
            var done = await client.Jobs.WaitAsync(job.Id, poll: TimeSpan.FromMilliseconds(50));
            if (done.Status != JobStatus.Succeeded) throw new InvalidOperationException(done.Error);
            stratus = TimeSpan.FromTicks(Math.Min(stratus.Ticks, stopwatch.Elapsed.Ticks));
        }
        Console.WriteLine($"  ML.NET LightGBM directly      {reference.TotalSeconds,8:F2} s");
        Console.WriteLine($"  stratus train (job, tracked)  {stratus.TotalSeconds,8:F2} s");
        Console.WriteLine($"  wall-time ratio (Stratus / ML.NET): {stratus / reference:F2}  (aim: <= 1.10)");
    }
}
