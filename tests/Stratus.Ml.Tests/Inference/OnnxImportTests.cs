using System.Text.Json;
using Stratus.Ml.Inference;
using Stratus.Testing;

namespace Stratus.Ml.Tests.Inference;

public sealed class OnnxImportTests
{
    private static ModelPackage Import(byte[] onnx, OnnxSignature? signature, out ModelManifest manifest)
    {
        using var package = new MemoryStream();
        manifest = ModelPackage.ImportOnnx(onnx, signature, package);
        package.Position = 0;
        return ModelPackage.Load(package);
    }

    private static InvalidModelException Refused(byte[] onnx, OnnxSignature? signature = null) =>
        Assert.Throws<InvalidModelException>(() => ModelPackage.ImportOnnx(onnx, signature, new MemoryStream()));

    private static IReadOnlyDictionary<string, JsonElement> Row(params (string Column, object Value)[] values) =>
        JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(JsonSerializer.Serialize(values.ToDictionary(v => v.Column, v => v.Value)))!;

    [Fact]
    public void Should_serve_a_network_exported_with_logits_as_its_source_computes_it()
    {
        var (onnx, source) = OnnxGraph.Mlp(7, 4, 16, 3);
        string[] columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
        var model = Import(onnx, new OnnxSignature(Classes: ["setosa", "versicolor", "virginica"], Inputs: [new OnnxInput("x", columns)], Scores: "logits", Target: "species"), out var manifest);

        Assert.Equal(("multiclass", "onnx", "species"), (manifest.Task, manifest.Trainer, manifest.Target));
        Assert.Equal(columns, manifest.Inputs.Select(i => i.Name));
        Assert.All(manifest.Inputs, i => Assert.Equal("FLOAT", i.Type));
        Assert.Equal("x", manifest.Onnx!.Inputs![0].Tensor);
        Assert.Equal("logits", manifest.Onnx.Output);

        var random = new Random(3);
        var rows = Enumerable.Range(0, 50).Select(_ => columns.Select(_ => (float)(random.NextDouble() * 8)).ToArray()).ToList();
        var predictions = model.Predict([.. rows.Select(x => Row([.. columns.Select((c, j) => (c, (object)x[j]))]))]);
        for (var r = 0; r < rows.Count; r++)
        {
            var logits = source(rows[r]);
            var exp = logits.Select(v => Math.Exp(v - logits.Max())).ToArray();
            var expected = exp.Select(v => v / exp.Sum()).ToArray();
            Assert.Equal(manifest.Classes[Array.IndexOf(expected, expected.Max())], predictions[r].Label);
            for (var k = 0; k < 3; k++) Assert.Equal(expected[k], predictions[r].Probabilities![manifest.Classes[k]], 1e-5);
        }
    }

    [Fact]
    public void Should_serve_a_logistic_regression_with_one_probability_column_and_read_columns_off_the_model()
    {
        float[] w = [0.8f, -1.5f];
        var onnx = new OnnxGraph().Input("x", OnnxGraph.Float, -1, 2).Weights("w", w, 2, 1).Weights("b", [0.25f], 1)
            .Node("MatMul", ["x", "w"], ["m"]).Node("Add", ["m", "b"], ["z"]).Node("Sigmoid", ["z"], ["probability"])
            .Output("probability", OnnxGraph.Float, -1, 1).ToBytes();

        // One column of scores reads as regression unless the signature says otherwise.
        Import(onnx, null, out var plain);
        Assert.Equal("regression", plain.Task);
        Assert.Equal(["x_0", "x_1"], plain.Inputs.Select(i => i.Name));

        var model = Import(onnx, new OnnxSignature(Task: "binary", Classes: ["legit", "fraud"]), out var manifest);
        Assert.Equal(["legit", "fraud"], manifest.Classes);
        var prediction = model.Predict([Row(("x_0", 2.0), ("x_1", 0.5))])[0];
        var p = 1 / (1 + Math.Exp(-((0.8 * 2.0) - (1.5 * 0.5) + 0.25)));
        Assert.Equal(p, prediction.Probabilities!["fraud"], 1e-6);
        Assert.Equal(p >= 0.5 ? "fraud" : "legit", prediction.Label);

        var wrong = Assert.Throws<PredictionInputException>(() => model.Predict([Row(("x_0", 1.0), ("x_1", 2.0)), Row(("x_0", "high"), ("x_1", 2.0))]));
        Assert.Equal("instances[1].x_0", wrong.Field);
        Assert.Contains("expected a number, got a string", wrong.Message);
        Assert.Equal("instances[0].x_1", Assert.Throws<PredictionInputException>(() => model.Predict([Row(("x_0", 1.0))])).Field);
    }

    [Fact]
    public void Should_fill_several_typed_inputs_and_score_a_regression()
    {
        // Two inputs as scikit-learn's converters write them: a float matrix and an int64 column, cast and joined.
        var onnx = new OnnxGraph().Input("num", OnnxGraph.Float, -1, 2).Input("count", OnnxGraph.Int64, -1, 1)
            .Node("Cast", ["count"], ["countf"], ("to", OnnxGraph.Float))
            .Node("Concat", ["num", "countf"], ["all"], ("axis", 1))
            .Weights("w", [1.5f, -2f, 0.5f], 3, 1).Node("MatMul", ["all", "w"], ["y"])
            .Output("y", OnnxGraph.Float, -1, 1).ToBytes();
        var model = Import(onnx, new OnnxSignature(Inputs: [new OnnxInput("num", ["rooms", "age"]), new OnnxInput("count", ["floors"])], Target: "price"), out var manifest);

        Assert.Equal(("regression", "price"), (manifest.Task, manifest.Target));
        Assert.Equal(["FLOAT", "FLOAT", "BIGINT"], manifest.Inputs.Select(i => i.Type));
        var values = model.Predict([Row(("rooms", 3), ("age", 10.5), ("floors", 2)), Row(("rooms", 1), ("age", 0), ("floors", 7))]);
        Assert.Equal((1.5 * 3) - (2 * 10.5) + (0.5 * 2), values[0].Value!.Value, 1e-5);
        Assert.Equal(1.5 + 3.5, values[1].Value!.Value, 1e-5);
        var fraction = Assert.Throws<PredictionInputException>(() => model.Predict([Row(("rooms", 3), ("age", 1), ("floors", 2.5))]));
        Assert.Equal("instances[0].floors", fraction.Field);
        Assert.Contains("expected a whole number, got 2.5", fraction.Message);
    }

    [Fact]
    public void Should_refuse_a_corrupt_or_truncated_file_at_import_with_the_reason()
    {
        var (onnx, _) = OnnxGraph.Mlp(1, 3, 8, 2);
        var truncated = Refused(onnx[..(onnx.Length / 2)]);
        Assert.Equal("model", truncated.Field);
        Assert.Contains("not an ONNX model", truncated.Message);
        Assert.Equal("model", Refused("this is not a model"u8.ToArray()).Field);
        Assert.Equal("model", Refused([]).Field);
    }

    [Fact]
    public void Should_refuse_a_signature_that_does_not_fit_the_model_naming_the_field()
    {
        var (onnx, _) = OnnxGraph.Mlp(1, 3, 8, 2);
        var columns = Refused(onnx, new OnnxSignature(Inputs: [new OnnxInput("x", ["a", "b"])]));
        Assert.Equal("signature.inputs[0].columns", columns.Field);
        Assert.Contains("names 2 column(s); the model's input 'x' takes 3", columns.Message);
        var tensor = Refused(onnx, new OnnxSignature(Inputs: [new OnnxInput("features", ["a", "b", "c"])]));
        Assert.Equal("signature.inputs[0].tensor", tensor.Field);
        Assert.Contains("no input 'features'; its inputs are 'x' (a Float tensor [N, 3])", tensor.Message);
        Assert.Equal("signature.inputs", Refused(onnx, new OnnxSignature(Inputs: [new OnnxInput("x", ["a", "a", "c"])])).Field);
        Assert.Equal("signature.classes", Refused(onnx, new OnnxSignature(Classes: ["only"])).Field);
        Assert.Equal("signature.task", Refused(onnx, new OnnxSignature(Task: "regression")).Field);
        Assert.Equal("signature.task", Refused(onnx, new OnnxSignature(Task: "clustering")).Field);
        Assert.Equal("signature.output", Refused(onnx, new OnnxSignature(Output: "scores")).Field);
        Assert.Equal("signature.scores", Refused(onnx, new OnnxSignature(Scores: "odds")).Field);

        var twoInputs = new OnnxGraph().Input("a", OnnxGraph.Float, -1, 1).Input("b", OnnxGraph.Float, -1, 1)
            .Node("Add", ["a", "b"], ["y"]).Output("y", OnnxGraph.Float, -1, 1).ToBytes();
        var unnamed = Refused(twoInputs, new OnnxSignature(Inputs: [new OnnxInput("a", ["left"])]));
        Assert.Equal("signature.inputs", unnamed.Field);
        Assert.Contains("'b' is not named", unnamed.Message);
    }

    [Fact]
    public void Should_refuse_models_that_cannot_serve_rows_before_any_request()
    {
        // A fixed batch of one row (exported without a dynamic batch axis).
        var fixedBatch = new OnnxGraph().Input("x", OnnxGraph.Float, 1, 2).Node("Relu", ["x"], ["y"]).Output("y", OnnxGraph.Float, 1, 2).ToBytes();
        Assert.Contains("dynamic first (batch) axis", Refused(fixedBatch).Message);

        // Only a label output, no scores (as a scikit-learn classifier converted with ZipMap offers).
        var labelsOnly = new OnnxGraph().Input("x", OnnxGraph.Float, -1, 3).Node("ArgMax", ["x"], ["label"], ("axis", 1), ("keepdims", 0))
            .Output("label", OnnxGraph.Int64, -1).ToBytes();
        var noScores = Refused(labelsOnly);
        Assert.Equal("model", noScores.Field);
        Assert.Contains("zipmap", noScores.Message);

        // A graph that loads but fails when run: the shape it reshapes to does not fit a row.
        var broken = new OnnxGraph().Input("x", OnnxGraph.Float, -1, 2).Longs("shape", [3], 1).Node("Reshape", ["x", "shape"], ["y"])
            .Output("y", OnnxGraph.Float, -1).ToBytes();
        var failing = Refused(broken);
        Assert.Equal("model", failing.Field);
        Assert.Contains("failed on a trial row", failing.Message);
    }

    [Fact]
    public void Should_record_where_the_model_came_from_in_its_manifest()
    {
        var (onnx, _) = OnnxGraph.Mlp(5, 2, 4, 2);
        Import(onnx, null, out var manifest);
        Assert.Equal("binary", manifest.Task);
        Assert.Equal(["0", "1"], manifest.Classes);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(onnx)), manifest.Parameters["source_sha256"]);
        Assert.Equal("stratus-tests", manifest.Parameters["producer"]);
        Assert.Equal("imported", manifest.Validation);
        Assert.False(string.IsNullOrEmpty(manifest.Libraries["onnxruntime"]));
        Assert.Equal("probabilities", manifest.Onnx!.Scores);
    }
}
