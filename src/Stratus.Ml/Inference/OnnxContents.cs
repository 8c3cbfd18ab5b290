namespace Stratus.Ml.Inference;

/// <summary>
/// Reads an ONNX model's protobuf before ONNX Runtime sees it, for what must never reach the runtime: tensors whose
/// data lives in external files (which ONNX Runtime would read relative to the server's working directory, turning any
/// file into prediction values).
/// </summary>
/// <remarks>
/// Every tensor is visited wherever ONNX can keep one: graph initializers (dense and sparse), node attributes (tensors
/// and subgraphs of If, Loop and Scan, to any depth), functions, and training graphs. Only the field numbers of
/// <c>onnx.proto</c> are needed, so this is a walk over the wire format, not a protobuf dependency.
/// </remarks>
internal static class OnnxContents
{
    private const int MaxDepth = 64;

    /// <summary>Refuses a model that keeps data outside itself.</summary>
    /// <exception cref="InvalidModelException">Names the tensor at fault, never a path: nothing about the server's files shows.</exception>
    public static void Check(ReadOnlySpan<byte> model)
    {
        try
        {
            Model(model);
        }
        catch (FormatException)
        {
            throw new InvalidModelException("model", "not an ONNX model: its protobuf encoding is broken");
        }
    }

    // ModelProto: graph 7, training_info 20 (TrainingInfoProto: initialization 1, algorithm 2), functions 25.
    private static void Model(ReadOnlySpan<byte> bytes)
    {
        for (var r = new Reader(bytes); r.Next();)
        {
            if (r.Field == 7) Graph(r.Value, 1);
            else if (r.Field == 25) Function(r.Value, 1);
            else if (r.Field == 20)
            {
                for (var t = new Reader(r.Value); t.Next();)
                {
                    if (t.Field is 1 or 2) Graph(t.Value, 1);
                }
            }
        }
    }

    // GraphProto: node 1, initializer 5, sparse_initializer 15.
    private static void Graph(ReadOnlySpan<byte> bytes, int depth)
    {
        if (depth > MaxDepth) throw new InvalidModelException("model", $"graphs are nested more than {MaxDepth} deep");
        for (var r = new Reader(bytes); r.Next();)
        {
            switch (r.Field)
            {
                case 1:
                    Node(r.Value, depth);
                    break;
                case 5:
                    Tensor(r.Value);
                    break;
                case 15:
                    SparseTensor(r.Value);
                    break;
            }
        }
    }

    // FunctionProto: node 7, attribute_proto 11.
    private static void Function(ReadOnlySpan<byte> bytes, int depth)
    {
        for (var r = new Reader(bytes); r.Next();)
        {
            if (r.Field == 7) Node(r.Value, depth);
            else if (r.Field == 11) Attribute(r.Value, depth);
        }
    }

    // NodeProto: attribute 5.
    private static void Node(ReadOnlySpan<byte> bytes, int depth)
    {
        for (var r = new Reader(bytes); r.Next();)
        {
            if (r.Field == 5) Attribute(r.Value, depth);
        }
    }

    // AttributeProto: t 5, g 6, tensors 10, graphs 11, sparse_tensor 22, sparse_tensors 23.
    private static void Attribute(ReadOnlySpan<byte> bytes, int depth)
    {
        for (var r = new Reader(bytes); r.Next();)
        {
            switch (r.Field)
            {
                case 5 or 10:
                    Tensor(r.Value);
                    break;
                case 6 or 11:
                    Graph(r.Value, depth + 1);
                    break;
                case 22 or 23:
                    SparseTensor(r.Value);
                    break;
            }
        }
    }

    // SparseTensorProto: values 1, indices 2.
    private static void SparseTensor(ReadOnlySpan<byte> bytes)
    {
        for (var r = new Reader(bytes); r.Next();)
        {
            if (r.Field is 1 or 2) Tensor(r.Value);
        }
    }

    // TensorProto: name 8, external_data 13, data_location 14 (EXTERNAL = 1).
    private static void Tensor(ReadOnlySpan<byte> bytes)
    {
        var name = "";
        var external = false;
        for (var r = new Reader(bytes); r.Next();)
        {
            if (r.Field == 8) name = Text(r.Value);
            else if (r.Field == 13 || (r.Field == 14 && r.Number != 0)) external = true;
        }
        if (external)
        {
            throw new InvalidModelException("model", $"tensor '{name}' keeps its data in an external file; Stratus serves only self-contained models " +
                "(save it with the weights inside: onnx.save_model(model, path, save_as_external_data=False))");
        }
    }

    private static string Text(ReadOnlySpan<byte> bytes)
    {
        var text = System.Text.Encoding.UTF8.GetString(bytes[..Math.Min(bytes.Length, 200)]);
        return text.Length < bytes.Length ? text + "..." : text;
    }

    /// <summary>The fields of one protobuf message, in order, without copying: a length-delimited field's bytes, a varint's number.</summary>
    private ref struct Reader(ReadOnlySpan<byte> bytes)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _at;

        public int Field { get; private set; }

        /// <summary>A length-delimited field's bytes (empty for other wire types).</summary>
        public ReadOnlySpan<byte> Value { get; private set; }

        /// <summary>A varint field's value (0 for other wire types).</summary>
        public ulong Number { get; private set; }

        public bool Next()
        {
            if (_at >= _bytes.Length) return false;
            var tag = Varint();
            Field = (int)(tag >> 3);
            Value = default;
            Number = 0;
            switch ((int)(tag & 7))
            {
                case 0:
                    Number = Varint();
                    break;
                case 1:
                    Skip(8);
                    break;
                case 2:
                    var length = Varint();
                    if (length > (ulong)(_bytes.Length - _at)) throw new FormatException();
                    Value = _bytes.Slice(_at, (int)length);
                    _at += (int)length;
                    break;
                case 5:
                    Skip(4);
                    break;
                default:
                    throw new FormatException();
            }
            return true;
        }

        private void Skip(int count)
        {
            if (_at + count > _bytes.Length) throw new FormatException();
            _at += count;
        }

        private ulong Varint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_at >= _bytes.Length) throw new FormatException();
                var b = _bytes[_at++];
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80) return value;
            }
            throw new FormatException();
        }
    }
}
