using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Stratus.Ml.Training;

namespace Stratus.Ml.Inference;

/// <summary>A model or signature that cannot be served, found at import: <see cref="Field"/> names what is at fault.</summary>
public sealed class InvalidModelException(string field, string message) : Exception($"{field}: {message}")
{
    public string Field { get; } = field;

    public string Reason { get; } = message;
}

/// <summary>
/// An imported ONNX model served with ONNX Runtime: one session per model version (thread-safe, one thread per call:
/// the server's concurrency is the parallelism), request columns packed into its input tensors as the signature says,
/// and its score output read back as probabilities or values. Opening it checks everything a request could trip over
/// (the file, the inputs against the signature, a trial row through the graph), so a bad model fails at import.
/// </summary>
internal sealed class OnnxModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly Input[] _inputs;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly bool _logits;
    private readonly RunOptions _run = new();

    private sealed record Input(string Tensor, string[] Columns, TensorElementType Type, bool Rank1);

    private OnnxModel(InferenceSession session, Input[] inputs, string output, bool logits)
    {
        _session = session;
        _inputs = inputs;
        _inputNames = [.. inputs.Select(i => i.Tensor)];
        _outputNames = [output];
        _logits = logits;
    }

    /// <summary>The signature with every field filled in.</summary>
    public OnnxSignature Signature { get; private set; } = null!;

    public MlTask Task { get; private set; }

    /// <summary>How many numbers the output holds per row (1 for regression and a single-column binary score).</summary>
    public int Width { get; private set; }

    /// <summary>The request columns with their types (DuckDB names, as native models list theirs).</summary>
    public IReadOnlyList<ModelInput> Columns => [.. _inputs.SelectMany(i => i.Columns.Select(c => new ModelInput(c, TypeName(i.Type)!)))];

    /// <summary>Who exported the model (<c>pytorch</c>, <c>skl2onnx</c>, ...), from its metadata.</summary>
    public string Producer => _session.ModelMetadata.ProducerName;

    /// <summary>Opens a model and resolves <paramref name="declared"/> against it (null: everything read off the model).</summary>
    /// <exception cref="InvalidModelException">The bytes are not a model ONNX Runtime runs, or the signature does not fit it.</exception>
    public static OnnxModel Open(byte[] bytes, OnnxSignature? declared)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
        };
        // Every session allocates from the process's one capped arena (see DataLimits.OnnxMemoryBytes).
        _ = Arena.Value;
        options.AddSessionConfigEntry("session.use_env_allocators", "1");
        // Before the runtime sees it: a tensor with external data would have it read a file of the server's.
        OnnxContents.Check(bytes);
        InferenceSession session;
        try
        {
            session = new InferenceSession(bytes, options);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidModelException("model", $"not an ONNX model that ONNX Runtime {Version} can run: {Clean(ex.Message)}");
        }
        try
        {
            return Resolve(session, declared ?? new OnnxSignature());
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    public static string Version => typeof(InferenceSession).Assembly.GetName().Version?.ToString(3) ?? "";

    /// <summary>Registers, once per process, the CPU arena all sessions share, capped at <see cref="Stratus.Ml.Data.DataLimits.OnnxMemoryBytes"/>.</summary>
    private static readonly Lazy<bool> Arena = new(() =>
    {
        var cap = (uint)Math.Clamp(Stratus.Ml.Data.DataLimits.Current.OnnxMemoryBytes, 1 << 20, uint.MaxValue);
        using var memory = new OrtMemoryInfo(OrtMemoryInfo.allocatorCPU, OrtAllocatorType.ArenaAllocator, 0, OrtMemType.Default);
        // Extended by what is asked (1), not to the next power of two: the cap holds to the byte.
        using var arena = new OrtArenaCfg(cap, 1, -1, -1);
        OrtEnv.Instance().CreateAndRegisterAllocator(memory, arena);
        return true;
    });

    private static OnnxModel Resolve(InferenceSession session, OnnxSignature declared)
    {
        var inputs = ResolveInputs(session.InputMetadata, declared.Inputs);
        var max = Stratus.Ml.Data.DataLimits.Current.MaxColumns;
        if (inputs.Sum(i => (long)i.Columns.Length) > max) throw new InvalidModelException("model", $"the model's inputs take {inputs.Sum(i => (long)i.Columns.Length):N0} values per row; a request may carry at most {max:N0} (limit MaxColumns)");
        var duplicate = inputs.SelectMany(i => i.Columns).GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new InvalidModelException("signature.inputs", $"column '{duplicate.Key}' is named twice");

        var outputs = session.OutputMetadata;
        string output;
        if (declared.Output is { } named)
        {
            if (!outputs.TryGetValue(named, out var meta)) throw new InvalidModelException("signature.output", $"the model has no output '{named}'; its outputs are {Describe(outputs)}");
            if (!IsScores(meta)) throw new InvalidModelException("signature.output", $"'{named}' is {Describe(meta)}, not a tensor of floating-point scores");
            output = named;
        }
        else
        {
            output = outputs.FirstOrDefault(o => IsScores(o.Value)).Key
                ?? throw new InvalidModelException("model", $"no output is a tensor of floating-point scores (its outputs are {Describe(outputs)}); " +
                    "a scikit-learn classifier converted with ZipMap returns maps: convert it with options {'zipmap': False}");
        }
        var scores = declared.Scores ?? "probabilities";
        if (scores is not ("probabilities" or "logits")) throw new InvalidModelException("signature.scores", $"is '{scores}'; use probabilities or logits");

        var model = new OnnxModel(session, inputs, output, scores == "logits");
        // A trial row through the graph: a model that cannot run, or whose output has no row-wise shape, fails here, not on a request.
        int width;
        try
        {
            width = model.Run(Enumerable.Range(0, 1).Select(_ => (IReadOnlyDictionary<string, JsonElement>)new Dictionary<string, JsonElement>()).ToList(), trial: true).Width;
        }
        catch (OnnxRuntimeException ex)
        {
            model.Dispose();
            throw new InvalidModelException("model", ex.Message.Contains("bfc_arena", StringComparison.Ordinal)
                ? $"needs more memory for a trial row than imported models may hold ({Stratus.Ml.Data.DataLimits.Current.OnnxMemoryBytes:N0} bytes, limit OnnxMemoryBytes)"
                : $"failed on a trial row (zeros and empty strings): {Clean(ex.Message)}");
        }
        catch
        {
            model.Dispose();
            throw;
        }

        try
        {
            MlTask task;
            try
            {
                task = MlTasks.Parse(declared.Task) ?? (width == 1 ? MlTask.Regression : width == 2 ? MlTask.BinaryClassification : MlTask.MulticlassClassification);
            }
            catch (Stratus.Ml.Data.DataFormatException ex)
            {
                throw new InvalidModelException("signature.task", ex.Message);
            }
            var fits = task switch
            {
                MlTask.Regression => width == 1,
                MlTask.BinaryClassification => width is 1 or 2,
                _ => width >= 2,
            };
            if (!fits) throw new InvalidModelException("signature.task", $"a {task.Name()} model cannot score with '{output}', which holds {width} number(s) per row");
            var classCount = task switch { MlTask.Regression => 0, MlTask.BinaryClassification => 2, _ => width };
            var classes = declared.Classes ?? [.. Enumerable.Range(0, classCount).Select(k => k.ToString(System.Globalization.CultureInfo.InvariantCulture))];
            if (classes.Count != classCount)
            {
                throw new InvalidModelException("signature.classes", task == MlTask.Regression
                    ? "a regression model has no classes"
                    : $"names {classes.Count} classes; '{output}' scores {classCount}");
            }
            if (classes.Distinct(StringComparer.Ordinal).Count() != classes.Count) throw new InvalidModelException("signature.classes", "a class is named twice");
            model.Task = task;
            model.Width = width;
            model.Signature = new OnnxSignature(task.Name(), classes, [.. inputs.Select(i => new OnnxInput(i.Tensor, i.Columns))], output, scores, declared.Target ?? "prediction");
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static Input[] ResolveInputs(IReadOnlyDictionary<string, NodeMetadata> meta, IReadOnlyList<OnnxInput>? declared)
    {
        if (declared is null)
        {
            return [.. meta.Select(m =>
            {
                var (type, width, rank1) = Shape(m.Key, m.Value, "model");
                return new Input(m.Key, width == 1 ? [m.Key] : [.. Enumerable.Range(0, width).Select(j => $"{m.Key}_{j}")], type, rank1);
            })];
        }
        var inputs = new List<Input>();
        for (var i = 0; i < declared.Count; i++)
        {
            var tensor = declared[i].Tensor;
            if (!meta.TryGetValue(tensor ?? "", out var m)) throw new InvalidModelException($"signature.inputs[{i}].tensor", $"the model has no input '{tensor}'; its inputs are {Describe(meta)}");
            if (inputs.Any(x => x.Tensor == tensor)) throw new InvalidModelException($"signature.inputs[{i}].tensor", $"'{tensor}' is named twice");
            var (type, width, rank1) = Shape(tensor!, m, $"signature.inputs[{i}].tensor");
            var columns = declared[i].Columns ?? [];
            if (columns.Count != width) throw new InvalidModelException($"signature.inputs[{i}].columns", $"names {columns.Count} column(s); the model's input '{tensor}' takes {width}");
            if (columns.Any(string.IsNullOrWhiteSpace)) throw new InvalidModelException($"signature.inputs[{i}].columns", "a column name is empty");
            inputs.Add(new Input(tensor!, [.. columns], type, rank1));
        }
        if (meta.Keys.FirstOrDefault(k => inputs.All(x => x.Tensor != k)) is { } missing)
            throw new InvalidModelException("signature.inputs", $"the model's input '{missing}' is not named; name the columns of every input ({Describe(meta)})");
        return [.. inputs];
    }

    /// <summary>An input's element type and how many columns fill it: rank 1 ([N]) or rank 2 ([N, F] with F fixed), N free.</summary>
    private static (TensorElementType Type, int Width, bool Rank1) Shape(string name, NodeMetadata meta, string field)
    {
        if (!meta.IsTensor) throw new InvalidModelException(field, $"the model's input '{name}' is {Describe(meta)}; Stratus fills tensor inputs from request columns");
        if (TypeName(meta.ElementDataType) is null)
            throw new InvalidModelException(field, $"the model's input '{name}' holds {meta.ElementDataType}; Stratus fills float, double, int64, int32, bool and string tensors");
        var dims = meta.Dimensions;
        if (dims.Length is 0 or > 2) throw new InvalidModelException(field, $"the model's input '{name}' has rank {dims.Length}; Stratus serves tabular models, whose inputs are [N] or [N, F]");
        if (dims[0] > 0) throw new InvalidModelException(field, $"the model's input '{name}' takes exactly {dims[0]} row(s); export it with a dynamic first (batch) axis, e.g. dynamic_axes in torch.onnx.export");
        if (dims.Length == 2 && dims[1] <= 0) throw new InvalidModelException(field, $"the model's input '{name}' has no fixed width (its second axis is dynamic)");
        // Each value of a row is a request column, named in the signature: a declared width is held to the column limit
        // before a name or a trial tensor is made for it.
        var max = Stratus.Ml.Data.DataLimits.Current.MaxColumns;
        if (dims.Length == 2 && dims[1] > max) throw new InvalidModelException(field, $"the model's input '{name}' takes {dims[1]:N0} values per row; a request may carry at most {max:N0} (limit MaxColumns)");
        return (meta.ElementDataType, dims.Length == 1 ? 1 : dims[1], dims.Length == 1);
    }

    private static bool IsScores(NodeMetadata meta) =>
        meta.IsTensor && meta.ElementDataType is TensorElementType.Float or TensorElementType.Double && meta.Dimensions.Length is 1 or 2;

    private static string? TypeName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "FLOAT",
        TensorElementType.Double => "DOUBLE",
        TensorElementType.Int64 => "BIGINT",
        TensorElementType.Int32 => "INTEGER",
        TensorElementType.Bool => "BOOLEAN",
        TensorElementType.String => "VARCHAR",
        _ => null,
    };

    private static string Describe(IReadOnlyDictionary<string, NodeMetadata> nodes) => string.Join(", ", nodes.Select(n => $"'{n.Key}' ({Describe(n.Value)})"));

    private static string Describe(NodeMetadata meta) => meta.IsTensor
        ? $"a {meta.ElementDataType} tensor [{string.Join(", ", meta.Dimensions.Select(d => d > 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : "N"))}]"
        : $"a {meta.OnnxValueType switch { OnnxValueType.ONNX_TYPE_SEQUENCE => "sequence", OnnxValueType.ONNX_TYPE_MAP => "map", _ => meta.OnnxValueType.ToString() }}";

    private static string Clean(string message) => message.Replace("[ErrorCode:", "(", StringComparison.Ordinal).Trim();

    /// <summary>
    /// Scores rows: for a binary classifier the positive class's probability per row, for a multiclass one every
    /// class's probability row after row, for regression the value.
    /// </summary>
    public double[] Score(IReadOnlyList<IReadOnlyDictionary<string, JsonElement>> rows)
    {
        var (raw, width) = Run(rows, trial: false);
        if (_logits)
        {
            if (width == 1) for (var i = 0; i < raw.Length; i++) raw[i] = 1 / (1 + Math.Exp(-raw[i]));
            else for (var r = 0; r < rows.Count; r++) Softmax(raw.AsSpan(r * width, width));
        }
        if (Task != MlTask.BinaryClassification || width == 1) return raw;
        var positive = new double[rows.Count];
        for (var r = 0; r < positive.Length; r++) positive[r] = raw[(r * 2) + 1];
        return positive;
    }

    private static void Softmax(Span<double> row)
    {
        var max = double.NegativeInfinity;
        foreach (var v in row) max = Math.Max(max, v);
        var sum = 0.0;
        for (var k = 0; k < row.Length; k++) sum += row[k] = Math.Exp(row[k] - max);
        for (var k = 0; k < row.Length; k++) row[k] /= sum;
    }

    private (double[] Scores, int Width) Run(IReadOnlyList<IReadOnlyDictionary<string, JsonElement>> rows, bool trial)
    {
        var n = rows.Count;
        var values = new OrtValue[_inputs.Length];
        try
        {
            for (var k = 0; k < _inputs.Length; k++) values[k] = Tensor(_inputs[k], rows, trial);
            using var results = _session.Run(_run, _inputNames, values, _outputNames);
            var output = results[0];
            var shape = output.GetTensorTypeAndShape();
            var dims = shape.Shape;
            if (dims.Length is 0 or > 2 || dims[0] != n)
                throw new InvalidModelException("model", $"the output '{_outputNames[0]}' has shape [{string.Join(", ", dims)}] for {n} row(s); Stratus reads [N] or [N, C]");
            var width = dims.Length == 1 ? 1 : (int)dims[1];
            double[] scores = shape.ElementDataType == TensorElementType.Double
                ? output.GetTensorDataAsSpan<double>().ToArray()
                : [.. output.GetTensorDataAsSpan<float>().ToArray().Select(v => (double)v)];
            return (scores, width);
        }
        finally
        {
            foreach (var value in values) value?.Dispose();
        }
    }

    private OrtValue Tensor(Input input, IReadOnlyList<IReadOnlyDictionary<string, JsonElement>> rows, bool trial)
    {
        var n = rows.Count;
        var width = input.Columns.Length;
        long[] shape = input.Rank1 ? [n] : [n, width];
        if (input.Type == TensorElementType.String)
        {
            var strings = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
            for (var r = 0; r < n; r++)
            {
                for (var j = 0; j < width; j++) strings.StringTensorSetElementAt(trial ? "" : Text(Value(rows[r], input.Columns[j], r), r, input.Columns[j]).AsSpan(), (r * width) + j);
            }
            return strings;
        }
        switch (input.Type)
        {
            case TensorElementType.Float:
                return OrtValue.CreateTensorValueFromMemory(Fill(rows, input, trial, (v, r, c) => (float)Number(v, r, c)), shape);
            case TensorElementType.Double:
                return OrtValue.CreateTensorValueFromMemory(Fill(rows, input, trial, Number), shape);
            case TensorElementType.Int64:
                return OrtValue.CreateTensorValueFromMemory(Fill(rows, input, trial, (v, r, c) => (long)Integer(v, r, c)), shape);
            case TensorElementType.Int32:
                return OrtValue.CreateTensorValueFromMemory(Fill(rows, input, trial, (v, r, c) => (int)Math.Clamp(Integer(v, r, c), int.MinValue, int.MaxValue)), shape);
            default:
                return OrtValue.CreateTensorValueFromMemory(Fill(rows, input, trial, Boolean), shape);
        }
    }

    private T[] Fill<T>(IReadOnlyList<IReadOnlyDictionary<string, JsonElement>> rows, Input input, bool trial, Func<JsonElement, int, string, T> convert)
    {
        var width = input.Columns.Length;
        var data = new T[rows.Count * width];
        if (trial) return data;
        for (var r = 0; r < rows.Count; r++)
        {
            for (var j = 0; j < width; j++) data[(r * width) + j] = convert(Value(rows[r], input.Columns[j], r), r, input.Columns[j]);
        }
        return data;
    }

    private JsonElement Value(IReadOnlyDictionary<string, JsonElement> row, string column, int r) =>
        row.TryGetValue(column, out var value) ? value
            : throw new PredictionInputException(ModelPackage.Field(r, column), $"is missing; the model needs {string.Join(", ", _inputs.SelectMany(i => i.Columns).Take(30))}");

    private static double Number(JsonElement value, int r, string column) => value.ValueKind switch
    {
        JsonValueKind.Number => value.GetDouble(),
        JsonValueKind.Null => double.NaN,
        JsonValueKind.True => 1,
        JsonValueKind.False => 0,
        _ => throw new PredictionInputException(ModelPackage.Field(r, column), $"expected a number, got {ModelPackage.Describe(value.ValueKind)}"),
    };

    private static double Integer(JsonElement value, int r, string column) => value.ValueKind switch
    {
        JsonValueKind.Number when value.TryGetInt64(out var whole) => whole,
        JsonValueKind.True => 1,
        JsonValueKind.False => 0,
        _ => throw new PredictionInputException(ModelPackage.Field(r, column), $"expected a whole number, got {(value.ValueKind == JsonValueKind.Number ? value.GetRawText() : ModelPackage.Describe(value.ValueKind))}"),
    };

    private static bool Boolean(JsonElement value, int r, string column) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number when value.TryGetInt64(out var flag) && flag is 0 or 1 => flag == 1,
        _ => throw new PredictionInputException(ModelPackage.Field(r, column), $"expected true or false, got {ModelPackage.Describe(value.ValueKind)}"),
    };

    private static string Text(JsonElement value, int r, string column) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Null => "",
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        _ => throw new PredictionInputException(ModelPackage.Field(r, column), "expected text"),
    };

    public void Dispose()
    {
        _session.Dispose();
        _run.Dispose();
    }
}
