namespace Stratus.Ml.Data;

/// <summary>
/// The most that one input (a dataset, a model file, a package) may make this process hold. Every figure a file
/// declares about itself (its columns, its rows, its decompressed sizes, its tensor shapes) is held against these
/// before anything is allocated for it, and a refusal names the limit. The server sets them once at start from its
/// options; the defaults suit a 16 GiB machine.
/// </summary>
public sealed record DataLimits
{
    /// <summary>Columns of a dataset, and values per row of an imported model's inputs. Default: 2,000 (Vertex AI's tabular limit is 1,000).</summary>
    public int MaxColumns { get; init; } = 2_000;

    /// <summary>Rows times columns of a dataset: training reads every cell into memory. Default: 1,000,000,000.</summary>
    public long MaxCells { get; init; } = 1_000_000_000;

    /// <summary>Decompressed bytes of a Parquet upload, and of each entry of a model package. Default: 8 GiB.</summary>
    public long MaxDecompressedBytes { get; init; } = 8L << 30;

    /// <summary>How many times its stored size a package entry may grow when decompressed (zip bombs). Default: 200.</summary>
    public int MaxCompressionRatio { get; init; } = 200;

    /// <summary>
    /// Memory one DuckDB connection may use before it spills to disk (DuckDB's own default is 80% of the machine).
    /// Default: a quarter of the memory this process may use, at least 1 GiB (DuckDB's Parquet writer buffers row
    /// groups of every column: 2,000 columns need more than 1 GiB).
    /// </summary>
    public long DuckDbMemoryBytes { get; init; } = Math.Max(1L << 30, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4);

    /// <summary>Threads one DuckDB connection may use. Default: 2 (the machine's cores when fewer).</summary>
    public int DuckDbThreads { get; init; } = Math.Min(2, Environment.ProcessorCount);

    /// <summary>
    /// Memory every ONNX model of this process may hold at once, weights and tensors together: one ONNX Runtime arena
    /// that refuses what would go beyond it, so a 240-byte graph that builds a huge tensor (ConstantOfShape, Expand,
    /// Tile) fails its import check instead of taking the machine's memory. ONNX Runtime's arena takes at most 4 GiB.
    /// Default: 4 GiB.
    /// </summary>
    public long OnnxMemoryBytes { get; init; } = uint.MaxValue;

    /// <summary>The limits in force in this process.</summary>
    public static DataLimits Current { get; set; } = new();
}
