using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Stratus.Ml.Data;
using Stratus.Ml.Training;
using Stratus.Ml.Training.Gbm;

namespace Stratus.Ml.Inference;

/// <summary>A request value that does not fit the model's signature; <see cref="Field"/> names it (<c>instances[3].amount</c>).</summary>
public sealed class PredictionInputException(string field, string message) : Exception($"{field}: {message}")
{
    /// <summary>The offending field.</summary>
    public string Field { get; } = field;

    /// <summary>What is wrong with it, without the field's name.</summary>
    public string Reason { get; } = message;
}

/// <summary>
/// A trained model as Stratus stores it: one zip holding <c>manifest.json</c> (signature, task, classes, metrics,
/// lineage), <c>model.zip</c> (the ML.NET pipeline, featurization included) and, for LightGBM, <c>booster.txt</c>
/// (LightGBM's own model text, scoring the pipeline's features). An imported ONNX model is stored as
/// <c>manifest.json</c> (its resolved <see cref="OnnxSignature"/> included) and <c>model.onnx</c>.
/// </summary>
public sealed class ModelPackage
{
    /// <summary>The package format this version writes and reads.</summary>
    public const string Format = "stratus-model/1";

    private readonly TrainedModel? _model;
    private readonly InputPlan[] _plan = [];
    private readonly OnnxModel? _onnx;
    private readonly MlTask _task;

    /// <summary>How one request column fills the model's columns: resolved once per package, not per row.</summary>
    private sealed record InputPlan(string Name, (FeatureColumn Feature, int Index)[] Targets, HashSet<string>? Categories, IReadOnlyList<string>? Known);

    private ModelPackage(OnnxModel onnx, ModelManifest manifest)
    {
        _onnx = onnx;
        _task = onnx.Task;
        Manifest = manifest;
    }

    private ModelPackage(TrainedModel model, ModelManifest manifest)
    {
        _model = model;
        _task = model.Task;
        var inputSchema = model.InputSchema;
        Manifest = manifest;
        _plan = [.. manifest.Inputs.Select(input => new InputPlan(
            input.Name,
            [.. TrainingData.FeaturesFor(input.Name, input.Type).Select(f =>
                (f, (inputSchema.GetColumnOrNull(f.Column) ?? inputSchema.GetColumnOrNull(f.Name))?.Index // by name in packages made before
                    ?? throw new InvalidDataException($"the model has no input column '{f.Name}'")))],
            input.Categories?.ToHashSet(StringComparer.Ordinal),
            input.Categories))];
    }

    /// <summary>What the package says about itself.</summary>
    public ModelManifest Manifest { get; }

    /// <summary>Writes a trained model and its manifest as a package.</summary>
    public static void Save(TrainResult result, IReadOnlyList<ColumnProfile> profile, string target, Stream destination, IReadOnlyDictionary<string, string> parameters, string? dataset = null, string? datasetSha256 = null)
    {
        var inputs = result.Features.Select(f => f.SourceColumn).Distinct()
            .Select(name => new ModelInput(name, profile.First(c => c.Name == name).Type, result.Categories.GetValueOrDefault(name))).ToList();
        var manifest = new ModelManifest(Format, result.Task.Name(), target, result.Trainer, inputs, result.Classes, result.Metrics, result.Validation,
            parameters, new Dictionary<string, string> { ["Microsoft.ML"] = typeof(MLContext).Assembly.GetName().Version?.ToString() ?? "" }, dataset, datasetSha256);
        if (result.Model.Members.Count > 0)
        {
            manifest = manifest with { Members = [.. result.Model.Members.Select(m => m.Info)] };
        }
        using var zip = new ZipArchive(destination, ZipArchiveMode.Create, leaveOpen: true);
        using (var entry = zip.CreateEntry("manifest.json").Open())
        {
            JsonSerializer.Serialize(entry, manifest, StratusJsonContext.Default.ModelManifest);
        }
        if (result.Model.Members.Count == 0)
        {
            WriteModel(zip, "", result.Model);
            return;
        }
        for (var i = 0; i < result.Model.Members.Count; i++) WriteModel(zip, $"members/{i}/", result.Model.Members[i].Model);
    }

    private static void WriteModel(ZipArchive zip, string prefix, TrainedModel model)
    {
        using (var entry = zip.CreateEntry(prefix + "model.zip", CompressionLevel.NoCompression).Open())
        {
            new MLContext().Model.Save(model.Pipeline, model.InputSchema, entry);
        }
        if (model.Booster is { } booster)
        {
            using var entry = new StreamWriter(zip.CreateEntry(prefix + "booster.txt").Open());
            entry.Write(booster.Save());
        }
    }

    /// <summary>Reads only a package's manifest (its signature, task and classes), without loading the model.</summary>
    public static ModelManifest ReadManifest(Stream source)
    {
        using var zip = new ZipArchive(source, ZipArchiveMode.Read, leaveOpen: true);
        using var stream = Open(zip, "manifest.json");
        return JsonSerializer.Deserialize(stream, StratusJsonContext.Default.ModelManifest) ?? throw new InvalidDataException("manifest.json is empty");
    }

    /// <summary>Reads a package.</summary>
    /// <exception cref="InvalidDataException">The stream is not a Stratus model package of a known format.</exception>
    public static ModelPackage Load(Stream source)
    {
        using var zip = new ZipArchive(source, ZipArchiveMode.Read, leaveOpen: true);
        ModelManifest manifest;
        using (var stream = Open(zip, "manifest.json"))
        {
            manifest = JsonSerializer.Deserialize(stream, StratusJsonContext.Default.ModelManifest) ?? throw new InvalidDataException("manifest.json is empty");
        }
        if (manifest.Format != Format) throw new InvalidDataException($"model package format '{manifest.Format}' is not supported; this server reads {Format}");
        var task = MlTasks.Parse(manifest.Task) ?? throw new InvalidDataException($"manifest.json names an unknown task '{manifest.Task}'");
        if (manifest.Onnx is { } signature)
        {
            using var onnx = new MemoryStream();
            using (var stream = Open(zip, OnnxEntry))
            {
                stream.CopyTo(onnx);
            }
            return new ModelPackage(OnnxModel.Open(onnx.ToArray(), signature), manifest);
        }
        if (manifest.Members is not { Count: > 0 } members) return new ModelPackage(ReadModel(zip, "", task, manifest.Classes), manifest);
        var ensemble = TrainedModel.Ensemble([.. members.Select((m, i) => (ReadModel(zip, $"members/{i}/", task, manifest.Classes), m))]);
        return new ModelPackage(ensemble, manifest);
    }

    private const string OnnxEntry = "model.onnx";

    /// <summary>Opens a package entry after holding its declared size against the limits (the reader stops at that size).</summary>
    private static Stream Open(ZipArchive zip, string name)
    {
        var entry = zip.GetEntry(name) ?? throw new InvalidDataException($"not a Stratus model package: {name} is missing");
        CheckSize(entry, name);
        return entry.Open();
    }

    /// <summary>Refuses an entry that would decompress beyond the limits: larger than allowed, or many times its stored size (a zip bomb).</summary>
    private static void CheckSize(ZipArchiveEntry entry, string name)
    {
        var limits = DataLimits.Current;
        if (entry.Length > limits.MaxDecompressedBytes)
            throw new InvalidDataException($"{name} decompresses to {entry.Length:N0} bytes; a package entry may hold at most {limits.MaxDecompressedBytes:N0} (limit MaxDecompressedBytes)");
        if (entry.Length > 1 << 20 && entry.Length > entry.CompressedLength * (long)limits.MaxCompressionRatio)
            throw new InvalidDataException($"{name} decompresses to {entry.Length:N0} bytes from {entry.CompressedLength:N0}, more than {limits.MaxCompressionRatio} times its size (limit MaxCompressionRatio)");
    }

    /// <summary>
    /// Packages an ONNX model (exported from PyTorch, scikit-learn, TensorFlow, ...) for serving, after checking that
    /// ONNX Runtime runs it, that <paramref name="signature"/> fits its inputs and outputs, and that a trial row goes
    /// through; what the signature leaves out is read off the model.
    /// </summary>
    /// <exception cref="InvalidModelException">The model cannot be served; the exception names the field at fault.</exception>
    public static ModelManifest ImportOnnx(byte[] onnx, OnnxSignature? signature, Stream destination)
    {
        using var model = OnnxModel.Open(onnx, signature);
        var parameters = new Dictionary<string, string> { ["source_sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(onnx)) };
        if (!string.IsNullOrEmpty(model.Producer)) parameters["producer"] = model.Producer;
        var manifest = new ModelManifest(Format, model.Task.Name(), model.Signature.Target!, "onnx", model.Columns, model.Signature.Classes!,
            new Dictionary<string, double>(), "imported", parameters, new Dictionary<string, string> { ["onnxruntime"] = OnnxModel.Version }, Onnx: model.Signature);
        using var zip = new ZipArchive(destination, ZipArchiveMode.Create, leaveOpen: true);
        using (var entry = zip.CreateEntry("manifest.json").Open())
        {
            JsonSerializer.Serialize(entry, manifest, StratusJsonContext.Default.ModelManifest);
        }
        using (var entry = zip.CreateEntry(OnnxEntry, CompressionLevel.Fastest).Open())
        {
            entry.Write(onnx);
        }
        return manifest;
    }

    private static TrainedModel ReadModel(ZipArchive zip, string prefix, MlTask task, IReadOnlyList<string> classes)
    {
        var ml = new MLContext();
        using var model = new MemoryStream();
        using (var stream = Open(zip, prefix + "model.zip"))
        {
            stream.CopyTo(model);
        }
        // ML.NET's model is a zip of its own, read entry by entry by ML.NET: its entries are held to the same limits.
        model.Position = 0;
        using (var inner = new ZipArchive(model, ZipArchiveMode.Read, leaveOpen: true))
        {
            foreach (var entry in inner.Entries) CheckSize(entry, $"{prefix}model.zip/{entry.FullName}");
        }
        model.Position = 0;
        var pipeline = ml.Model.Load(model, out var inputSchema);
        GbmModel? booster = null;
        if (zip.GetEntry(prefix + "booster.txt") is not null)
        {
            using var reader = new StreamReader(Open(zip, prefix + "booster.txt"));
            booster = GbmModel.Load(reader.ReadToEnd());
        }
        return new TrainedModel(pipeline, inputSchema, booster, task, classes);
    }

    /// <summary>Predicts for rows given as JSON objects keyed by input column.</summary>
    /// <param name="strict">Refuse categories the model never saw (by default they score as unseen).</param>
    /// <exception cref="PredictionInputException">A row lacks an input column or carries a value of the wrong type (or, when strict, an unseen category).</exception>
    public IReadOnlyList<Prediction> Predict(IReadOnlyList<IReadOnlyDictionary<string, JsonElement>> rows, bool strict = false) =>
        _onnx is { } onnx ? ToPredictions(onnx.Score(rows)) : Predict(rows, (columns, count) => _model!.Score(columns, count), strict);

    /// <summary>As <see cref="Predict(IReadOnlyList{IReadOnlyDictionary{string, JsonElement}}, bool)"/>, through an ML.NET transform of all rows at once (the path training evaluates with).</summary>
    internal IReadOnlyList<Prediction> PredictBatch(IReadOnlyList<IReadOnlyDictionary<string, JsonElement>> rows) =>
        _onnx is { } onnx ? ToPredictions(onnx.Score(rows)) : Predict(rows, (columns, count) => _model!.Score(new RowsDataView(_model.InputSchema, columns, count)), strict: false);

    private IReadOnlyList<Prediction> Predict(IReadOnlyList<IReadOnlyDictionary<string, JsonElement>> rows, Func<Array[], int, double[]> score, bool strict)
    {
        var schema = _model!.InputSchema;
        var columns = new Array[schema.Count];
        for (var c = 0; c < schema.Count; c++)
        {
            var column = schema[c];
            columns[c] = column.Type switch
            {
                BooleanDataViewType => new bool[rows.Count],
                TextDataViewType => Enumerable.Repeat("", rows.Count).ToArray(),
                _ => new float[rows.Count],
            };
        }
        for (var r = 0; r < rows.Count; r++) Fill(rows[r], r, columns, strict);

        return ToPredictions(score(columns, rows.Count));
    }

    /// <summary>Predictions from scores: the positive class's probability per row (binary), every class's per row (multiclass), or values.</summary>
    private Prediction[] ToPredictions(double[] scores)
    {
        var classes = Manifest.Classes;
        return _task switch
        {
            MlTask.BinaryClassification => [.. scores.Select(p => new Prediction(
                p >= 0.5 ? classes[1] : classes[0],
                new Dictionary<string, double> { [classes[0]] = 1 - p, [classes[1]] = p }))],
            MlTask.MulticlassClassification => [.. scores.Chunk(classes.Count).Select(row => new Prediction(
                classes[Array.IndexOf(row, row.Max())],
                classes.Select((name, k) => (name, k)).ToDictionary(x => x.name, x => row[x.k])))],
            _ => [.. scores.Select(v => new Prediction(Value: v))],
        };
    }

    private void Fill(IReadOnlyDictionary<string, JsonElement> row, int r, Array[] columns, bool strict)
    {
        foreach (var input in _plan)
        {
            if (!row.TryGetValue(input.Name, out var value))
                throw new PredictionInputException(Field(r, input.Name), $"is missing; the model needs {string.Join(", ", _plan.Select(i => i.Name))}");
            foreach (var (feature, index) in input.Targets)
            {
                switch (columns[index])
                {
                    case float[] floats:
                        floats[r] = Number(feature, value, r);
                        break;
                    case string[] strings:
                        var text = value.ValueKind switch
                        {
                            JsonValueKind.String => value.GetString()!,
                            JsonValueKind.Null => "",
                            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
                            _ => throw new PredictionInputException(Field(r, input.Name), "expected text"),
                        };
                        // A category the model never saw scores as unseen (every indicator off, as LightGBM treats a
                        // value it never saw): production data always brings new values, and monitoring counts them
                        // as new categories. Only a strict caller refuses them.
                        if (strict && input.Categories is { } categories && text.Length > 0 && !categories.Contains(text))
                        {
                            var known = input.Known!;
                            throw new PredictionInputException(Field(r, input.Name),
                                $"unknown category '{text}'; the model knows {string.Join(", ", known.Take(20))}{(known.Count > 20 ? ", ..." : "")}");
                        }
                        strings[r] = text;
                        break;
                }
            }
        }
    }

    internal static string Field(int row, string column) => $"instances[{row}].{column}";

    private static float Number(FeatureColumn feature, JsonElement value, int row)
    {
        if (value.ValueKind == JsonValueKind.Null) return float.NaN; // missing: the model imputes it
        if (feature.SourceType is "DATE" or "TIMESTAMP" or "TIMESTAMP WITH TIME ZONE")
        {
            if (value.ValueKind != JsonValueKind.String || !DateTime.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
                throw new PredictionInputException(Field(row, feature.SourceColumn), "expected a date such as \"2024-03-31\"");
            return feature.Name[(feature.SourceColumn.Length + 1)..] switch
            {
                "year" => time.Year,
                "month" => time.Month,
                "day" => time.Day,
                "dayofweek" => (int)time.DayOfWeek, // Sunday = 0, as DuckDB counts
                _ => time.Hour,
            };
        }
        return value.ValueKind switch
        {
            JsonValueKind.Number => (float)value.GetDouble(),
            JsonValueKind.True when feature.SourceType == "BOOLEAN" => 1,
            JsonValueKind.False when feature.SourceType == "BOOLEAN" => 0,
            _ => throw new PredictionInputException(Field(row, feature.SourceColumn), $"expected a number, got {Describe(value.ValueKind)}"),
        };
    }

    internal static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
