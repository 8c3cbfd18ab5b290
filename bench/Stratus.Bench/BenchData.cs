using System.Globalization;
using System.Text;

/// <summary>Synthetic data for the benchmarks.</summary>
internal static class BenchData
{
    public static void WriteTransactions(string path, int rows)
    {
        // Card transactions with real structure: log-normal amounts, categories, hours, distances, rare fraud.
        var random = new Random(42);
        string[] categories = ["grocery", "fuel", "restaurant", "electronics", "travel", "online", "pharmacy", "clothing"];
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        writer.WriteLine("id,amount,merchant_category,hour,distance_km,card_present,customer_age,fraud");
        for (var i = 0; i < rows; i++)
        {
            var fraud = random.NextDouble() < 0.02;
            var amount = Math.Round(Math.Exp(3.2 + (random.NextDouble() * 2) - 1) * (fraud ? 4 : 1), 2);
            var distance = Math.Round(-Math.Log(1 - random.NextDouble()) * (fraud ? 300 : 8), 1);
            writer.Write(i);
            writer.Write(',');
            writer.Write(amount.ToString(CultureInfo.InvariantCulture));
            writer.Write(',');
            writer.Write(categories[random.Next(categories.Length)]);
            writer.Write(',');
            writer.Write(random.Next(24));
            writer.Write(',');
            writer.Write(distance.ToString(CultureInfo.InvariantCulture));
            writer.Write(',');
            writer.Write(fraud && random.NextDouble() < 0.7 ? 0 : 1);
            writer.Write(',');
            writer.Write(18 + random.Next(70));
            writer.Write(',');
            writer.WriteLine(fraud ? 1 : 0);
        }
    }
}
