using System.Text;

namespace Stratus.Testing;

/// <summary>
/// Writes small ONNX models (the protobuf encoded by hand) for tests and benchmarks: the graphs an export from
/// PyTorch or scikit-learn holds (MatMul, Add, activations, Concat), with weights the test knows, so that the test
/// can compute the source model's answers itself and compare.
/// </summary>
internal sealed class OnnxGraph
{
    public const int Float = 1;
    public const int Int64 = 7;

    private readonly List<Proto> _nodes = [];
    private readonly List<Proto> _initializers = [];
    private readonly List<Proto> _inputs = [];
    private readonly List<Proto> _outputs = [];

    /// <summary>A graph input; a dimension of -1 is the free batch axis N.</summary>
    public OnnxGraph Input(string name, int type, params long[] dims)
    {
        _inputs.Add(ValueInfo(name, type, dims));
        return this;
    }

    public OnnxGraph Output(string name, int type, params long[] dims)
    {
        _outputs.Add(ValueInfo(name, type, dims));
        return this;
    }

    public OnnxGraph Weights(string name, float[] values, params long[] dims) => Tensor(name, Float, dims, values.SelectMany(BitConverter.GetBytes).ToArray());

    public OnnxGraph Longs(string name, long[] values, params long[] dims) => Tensor(name, Int64, dims, values.SelectMany(BitConverter.GetBytes).ToArray());

    private OnnxGraph Tensor(string name, int type, long[] dims, byte[] raw)
    {
        var tensor = new Proto();
        foreach (var d in dims) tensor.Int(1, d);
        tensor.Int(2, type).String(8, name).Bytes(9, raw);
        _initializers.Add(tensor);
        return this;
    }

    /// <summary>
    /// An initializer that keeps its data in an external file, as onnx.save_model(..., save_as_external_data=True)
    /// writes it: data_location EXTERNAL and a location relative to the model (which a runtime resolves against its
    /// working directory when the model came as bytes). With <paramref name="inNode"/> it is a Constant node's value instead.
    /// </summary>
    public OnnxGraph External(string name, string location, long length, bool inNode = false, params long[] dims)
    {
        var tensor = new Proto();
        foreach (var d in dims) tensor.Int(1, d);
        tensor.Int(2, Float).String(8, name)
            .Message(13, new Proto().String(1, "location").String(2, location))
            .Message(13, new Proto().String(1, "length").String(2, length.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .Int(14, 1);
        if (!inNode)
        {
            _initializers.Add(tensor);
            return this;
        }
        var node = new Proto().String(2, name).String(3, $"Constant_{_nodes.Count}").String(4, "Constant")
            .Message(5, new Proto().String(1, "value").Message(5, tensor).Int(20, 4)); // AttributeProto.TENSOR
        _nodes.Add(node);
        return this;
    }

    /// <summary>A node; attributes are integers (axis, to, ...).</summary>
    public OnnxGraph Node(string op, string[] inputs, string[] outputs, params (string Name, long Value)[] attributes)
    {
        var node = new Proto();
        foreach (var i in inputs) node.String(1, i);
        foreach (var o in outputs) node.String(2, o);
        node.String(3, $"{op}_{_nodes.Count}").String(4, op);
        foreach (var (name, value) in attributes) node.Message(5, new Proto().String(1, name).Int(3, value).Int(20, 2)); // AttributeProto.INT
        _nodes.Add(node);
        return this;
    }

    public byte[] ToBytes(int opset = 13)
    {
        var graph = new Proto();
        foreach (var n in _nodes) graph.Message(1, n);
        graph.String(2, "stratus_test");
        foreach (var t in _initializers) graph.Message(5, t);
        foreach (var i in _inputs) graph.Message(11, i);
        foreach (var o in _outputs) graph.Message(12, o);
        return new Proto().Int(1, 8).String(2, "stratus-tests").Message(7, graph).Message(8, new Proto().Int(2, opset)).ToArray();
    }

    private static Proto ValueInfo(string name, int type, long[] dims)
    {
        var shape = new Proto();
        foreach (var d in dims) shape.Message(1, d < 0 ? new Proto().String(2, "N") : new Proto().Int(1, d));
        return new Proto().String(1, name).Message(2, new Proto().Message(1, new Proto().Int(1, type).Message(2, shape)));
    }

    /// <summary>
    /// A dense network as a PyTorch export of nn.Sequential(Linear, ReLU, ..., Linear) writes it: input "x" [N, F],
    /// output "logits" [N, C]. Returns the model and the same network in C# (the source model) for parity.
    /// </summary>
    public static (byte[] Model, Func<float[], double[]> Source) Mlp(int seed, params int[] sizes)
    {
        var random = new Random(seed);
        var graph = new OnnxGraph().Input("x", Float, -1, sizes[0]);
        var layers = new List<(float[] W, float[] B, int In, int Out)>();
        var current = "x";
        for (var l = 0; l + 1 < sizes.Length; l++)
        {
            var (fanIn, fanOut) = (sizes[l], sizes[l + 1]);
            var scale = (float)Math.Sqrt(2.0 / fanIn);
            var w = Enumerable.Range(0, fanIn * fanOut).Select(_ => (float)((random.NextDouble() * 2) - 1) * scale).ToArray();
            var b = Enumerable.Range(0, fanOut).Select(_ => (float)(random.NextDouble() * 0.2)).ToArray();
            layers.Add((w, b, fanIn, fanOut));
            graph.Weights($"w{l}", w, fanIn, fanOut).Weights($"b{l}", b, fanOut)
                .Node("MatMul", [current, $"w{l}"], [$"m{l}"])
                .Node("Add", [$"m{l}", $"b{l}"], [l + 2 == sizes.Length ? "logits" : $"a{l}"]);
            if (l + 2 < sizes.Length) graph.Node("Relu", [$"a{l}"], [$"h{l}"]);
            current = $"h{l}";
        }
        graph.Output("logits", Float, -1, sizes[^1]);
        double[] Source(float[] x)
        {
            var h = x.Select(v => (double)v).ToArray();
            for (var l = 0; l < layers.Count; l++)
            {
                var (w, b, fanIn, fanOut) = layers[l];
                var next = new double[fanOut];
                for (var o = 0; o < fanOut; o++)
                {
                    var sum = (double)b[o];
                    for (var i = 0; i < fanIn; i++) sum += h[i] * w[(i * fanOut) + o];
                    next[o] = l + 1 < layers.Count ? Math.Max(0, sum) : sum;
                }
                h = next;
            }
            return h;
        }
        return (graph.ToBytes(), Source);
    }

    /// <summary>Protobuf wire format, the little of it ONNX needs.</summary>
    private sealed class Proto
    {
        private readonly List<byte> _bytes = [];

        public Proto Int(int field, long value)
        {
            Tag(field, 0);
            Varint((ulong)value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Bytes(int field, byte[] value)
        {
            Tag(field, 2);
            Varint((ulong)value.Length);
            _bytes.AddRange(value);
            return this;
        }

        public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _bytes.ToArray();

        private void Tag(int field, int wire) => Varint((ulong)((field << 3) | wire));

        private void Varint(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.Add((byte)(value | 0x80));
                value >>= 7;
            }
            _bytes.Add((byte)value);
        }
    }
}
