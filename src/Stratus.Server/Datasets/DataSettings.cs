using Stratus.Ml.Data;
using Stratus.Server.Kernel;

namespace Stratus.Server.Datasets;

/// <summary>
/// The most that one input may make a node hold (bound from the <c>Stratus</c> section; see
/// <see cref="Hosting.StratusOptions"/>): each limit is checked before anything is allocated for it, and a refusal names it.
/// </summary>
public sealed class DataSettings
{
    private static readonly DataLimits Defaults = new();

    /// <summary>Largest dataset or artifact upload, in bytes. Default: 64 GiB.</summary>
    public long MaxUploadBytes { get; set; } = 64L << 30;

    /// <summary>Columns of a dataset, and values per row of an imported model. Default: 2,000 (see <see cref="DataLimits"/>).</summary>
    public int MaxColumns { get; set; } = Defaults.MaxColumns;

    /// <summary>Rows times columns of a dataset. Default: 1,000,000,000.</summary>
    public long MaxCells { get; set; } = Defaults.MaxCells;

    /// <summary>Decompressed bytes of a Parquet upload and of each model package entry. Default: 8 GiB.</summary>
    public long MaxDecompressedBytes { get; set; } = Defaults.MaxDecompressedBytes;

    /// <summary>Memory each DuckDB connection (an upload, a preview, a drift check) may use before spilling to disk. Default: a quarter of the process's memory, at least 1 GiB.</summary>
    public long DuckDbMemoryBytes { get; set; } = Defaults.DuckDbMemoryBytes;

    /// <summary>Threads each DuckDB connection may use. Default: 2.</summary>
    public int DuckDbThreads { get; set; } = Defaults.DuckDbThreads;

    /// <summary>Memory all imported (ONNX) models may hold at once, weights and tensors, at most 4 GiB (ONNX Runtime's arena). Default: 4 GiB.</summary>
    public long OnnxMemoryBytes { get; set; } = Defaults.OnnxMemoryBytes;

    /// <summary>The limits these settings set, for the data engine.</summary>
    public DataLimits ToDataLimits() => new()
    {
        MaxColumns = MaxColumns,
        MaxCells = MaxCells,
        MaxDecompressedBytes = MaxDecompressedBytes,
        DuckDbMemoryBytes = DuckDbMemoryBytes,
        DuckDbThreads = DuckDbThreads,
        OnnxMemoryBytes = OnnxMemoryBytes,
    };

    public SettingProblems Problems()
    {
        var problems = new SettingProblems();
        problems.AtLeast(nameof(MaxUploadBytes), MaxUploadBytes, 1024);
        problems.AtLeast(nameof(MaxColumns), MaxColumns, 1);
        problems.AtLeast(nameof(MaxCells), MaxCells, 1);
        problems.AtLeast(nameof(MaxDecompressedBytes), MaxDecompressedBytes, 1024);
        problems.AtLeast(nameof(DuckDbMemoryBytes), DuckDbMemoryBytes, 64L << 20);
        problems.AtLeast(nameof(DuckDbThreads), DuckDbThreads, 1);
        problems.AtLeast(nameof(OnnxMemoryBytes), OnnxMemoryBytes, 16L << 20);
        if (OnnxMemoryBytes > uint.MaxValue) problems.Add($"Stratus:OnnxMemoryBytes is {OnnxMemoryBytes}; ONNX Runtime's arena takes at most {uint.MaxValue}");
        return problems;
    }
}
