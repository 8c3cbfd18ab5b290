using System.IO.Compression;
using Stratus.Ml.Inference;
using Stratus.Testing;

namespace Stratus.Ml.Tests.Inference;

/// <summary>What a hostile model file must never make the server do: read its files, or allocate without bound.</summary>
public sealed class ModelSafetyTests : IDisposable
{
    private readonly string _secret = Path.Combine(Environment.CurrentDirectory, $"secret-{Guid.NewGuid():N}.token");

    public ModelSafetyTests() => File.WriteAllText(_secret, "0123456789abcdef");

    public void Dispose() => File.Delete(_secret);

    /// <summary>y = x + leak, where leak's 16 bytes are "kept" in <paramref name="location"/>: the predictions would be the file's bytes as floats.</summary>
    private static byte[] Leaking(string location, bool inNode = false) => new OnnxGraph()
        .Input("x", OnnxGraph.Float, -1, 4)
        .External("leak", location, 16, inNode, 4)
        .Node("Add", ["x", "leak"], ["y"])
        .Output("y", OnnxGraph.Float, -1, 4)
        .ToBytes();

    private static InvalidModelException Refused(byte[] onnx) =>
        Assert.Throws<InvalidModelException>(() => ModelPackage.ImportOnnx(onnx, null, new MemoryStream()));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Should_refuse_a_model_whose_tensor_reads_a_file_naming_the_tensor_and_not_the_path(bool inNode)
    {
        var existing = Refused(Leaking(Path.GetFileName(_secret), inNode));
        var missing = Refused(Leaking("no-such-file.token", inNode));
        var absolute = Refused(Leaking("/etc/shadow", inNode));

        Assert.Equal("model", existing.Field);
        Assert.Contains("tensor 'leak' keeps its data in an external file", existing.Message);
        // The same answer whether the file exists or not, and no path in it: nothing about the server's files shows.
        Assert.Equal(existing.Message, missing.Message);
        Assert.Equal(existing.Message, absolute.Message);
        Assert.DoesNotContain("token", existing.Message);
        Assert.DoesNotContain("shadow", absolute.Message);
    }

    [Fact]
    public void Should_refuse_a_stored_package_whose_model_reads_a_file_when_it_is_loaded()
    {
        // A package imported cleanly, whose model.onnx is then swapped in storage (or written by an older server).
        var (clean, _) = OnnxGraph.Mlp(1, 4, 8, 2);
        using var package = new MemoryStream();
        ModelPackage.ImportOnnx(clean, null, package);
        using (var zip = new ZipArchive(package, ZipArchiveMode.Update, leaveOpen: true))
        {
            zip.GetEntry("model.onnx")!.Delete();
            using var entry = zip.CreateEntry("model.onnx").Open();
            entry.Write(Leaking(Path.GetFileName(_secret)));
        }
        package.Position = 0;

        var refused = Assert.Throws<InvalidModelException>(() => ModelPackage.Load(package));
        Assert.Contains("tensor 'leak' keeps its data in an external file", refused.Message);
    }

    [Fact]
    public void Should_refuse_a_declared_input_width_beyond_the_column_limit_before_allocating_for_it()
    {
        // 240 bytes that declare ten million values per row: once 49 MB of column names and gigabytes at the trial row.
        var wide = new OnnxGraph().Input("x", OnnxGraph.Float, -1, 10_000_000).Node("Identity", ["x"], ["y"]).Output("y", OnnxGraph.Float, -1, 10_000_000).ToBytes();
        var before = GC.GetTotalAllocatedBytes(precise: true);

        var refused = Refused(wide);

        Assert.Contains("takes 10,000,000 values per row; a request may carry at most 2,000 (limit MaxColumns)", refused.Message);
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 50 << 20, "the refusal allocated for the declared width");
    }

    [Fact]
    public void Should_refuse_a_tiny_graph_that_builds_a_huge_tensor_within_the_memory_cap()
    {
        // A few hundred bytes whose trial row asks for a 40,000 x 40,000 float tensor (6.4 GB): the capped arena refuses it.
        var bomb = new OnnxGraph().Input("x", OnnxGraph.Float, -1, 1).Longs("shape", [40_000, 40_000], 2)
            .Node("ConstantOfShape", ["shape"], ["big"]).Node("ReduceSum", ["big"], ["total"]).Node("Add", ["x", "total"], ["y"])
            .Output("y", OnnxGraph.Float, -1, 1).ToBytes();
        Assert.True(bomb.Length < 400, $"{bomb.Length} bytes");
        var before = System.Diagnostics.Process.GetCurrentProcess().WorkingSet64;

        var refused = Refused(bomb);

        Assert.Contains("needs more memory for a trial row than imported models may hold", refused.Message);
        Assert.Contains("limit OnnxMemoryBytes", refused.Message);
        Assert.True(System.Diagnostics.Process.GetCurrentProcess().WorkingSet64 - before < 1L << 30, "the refusal allocated the tensor");
    }

    [Fact]
    public void Should_refuse_a_package_entry_that_decompresses_to_many_times_its_size()
    {
        var (clean, _) = OnnxGraph.Mlp(1, 4, 8, 2);
        using var package = new MemoryStream();
        ModelPackage.ImportOnnx(clean, null, package);
        using (var zip = new ZipArchive(package, ZipArchiveMode.Update, leaveOpen: true))
        {
            zip.GetEntry("model.onnx")!.Delete();
            using var entry = zip.CreateEntry("model.onnx", CompressionLevel.SmallestSize).Open();
            entry.Write(new byte[64 << 20]); // 64 MiB of zeros in about 64 KB
        }
        package.Position = 0;

        var refused = Assert.Throws<InvalidDataException>(() => ModelPackage.Load(package));
        Assert.Contains("model.onnx decompresses to 67,108,864 bytes from", refused.Message);
        Assert.Contains("(limit MaxCompressionRatio)", refused.Message);
    }
}
