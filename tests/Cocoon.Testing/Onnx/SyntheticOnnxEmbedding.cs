using System.Buffers.Binary;
using System.Text;

namespace Cocoon.Testing.Onnx;

/// <summary>
/// Writes a small BERT-shaped ONNX embedding model and its WordPiece vocab.txt, so embedding tests and benchmarks need
/// no download. The graph is what a sentence-transformers export looks like from outside: <c>input_ids</c> and
/// <c>attention_mask</c> (int64, [batch, seq]) in, <c>last_hidden_state</c> (float, [batch, seq, dim]) out. Inside:
/// word + position embeddings (Gather), a masked mean over the sequence added back to every token (a uniform
/// "attention" that, like BERT's, ignores padding), MatMul + Add + Tanh, LayerNormalization and a last MatMul. The
/// weights come from a fixed seed, so the file (and its SHA-256) is the same on every run. The protobuf is written by
/// hand with the field numbers of onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto).
/// </summary>
public static class SyntheticOnnxEmbedding
{
    public const string ModelFile = "model.onnx";
    public const string VocabFile = "vocab.txt";
    public const int Dimensions = 32;
    public const int MaxPositions = 128;
    private const int OpsetVersion = 17;
    private const long IrVersion = 8;

    // onnx.proto TensorProto.DataType
    private const int Float = 1;
    private const int Int64 = 7;

    /// <summary>
    /// The vocabulary: BERT's special tokens at BERT's usual low ids, every lowercase letter and digit alone and as a
    /// continuation (so every ASCII word tokenizes without [UNK]), some punctuation, a few whole words and suffixes.
    /// </summary>
    public static IReadOnlyList<string> Vocabulary { get; } = BuildVocabulary();

    /// <summary>
    /// Writes model.onnx and vocab.txt into <paramref name="directory"/> (created) and returns the model path. The
    /// defaults make the small test model; benchmarks ask for a wider one with feed-forward blocks
    /// (<see cref="ModelBytes"/>), so ONNX Runtime has real work to do.
    /// </summary>
    public static string Write(string directory, int dimensions = Dimensions, int blocks = 0)
    {
        Directory.CreateDirectory(directory);
        var model = Path.Combine(directory, ModelFile);
        File.WriteAllBytes(model, ModelBytes(dimensions, blocks));
        File.WriteAllText(Path.Combine(directory, VocabFile), string.Join('\n', Vocabulary) + "\n");
        return model;
    }

    /// <summary>
    /// The ModelProto bytes (deterministic). <paramref name="blocks"/> adds that many residual feed-forward blocks
    /// (LayerNormalization, MatMul to 4x width, Tanh, MatMul back, Add) before the last MatMul.
    /// </summary>
    public static byte[] ModelBytes(int dimensions = Dimensions, int blocks = 0)
    {
        var random = new Xorshift(20261124);
        var vocab = Vocabulary.Count;
        var d = dimensions;
        var graph = new Proto();
        Node(graph, "Gather", ["word_embeddings", "input_ids"], ["tok"], ("axis", 0L));
        Node(graph, "Shape", ["input_ids"], ["ids_shape"]);
        Node(graph, "Gather", ["ids_shape", "one"], ["seq_len"], ("axis", 0L));
        Node(graph, "Range", ["zero", "seq_len", "one"], ["position_ids"]);
        Node(graph, "Gather", ["position_embeddings", "position_ids"], ["pos"], ("axis", 0L));
        Node(graph, "Add", ["tok", "pos"], ["x0"]);
        Node(graph, "Cast", ["attention_mask"], ["mask_f"], ("to", (long)Float));
        Node(graph, "Unsqueeze", ["mask_f", "last_axis"], ["mask_e"]);
        Node(graph, "Mul", ["x0", "mask_e"], ["x_masked"]);
        Node(graph, "ReduceSum", ["x_masked", "seq_axis"], ["x_sum"], ("keepdims", 1L));
        Node(graph, "ReduceSum", ["mask_e", "seq_axis"], ["mask_sum"], ("keepdims", 1L));
        Node(graph, "Div", ["x_sum", "mask_sum"], ["context"]);
        Node(graph, "Add", ["x0", "context"], ["x1"]);
        Node(graph, "MatMul", ["x1", "dense_weight"], ["h0"]);
        Node(graph, "Add", ["h0", "dense_bias"], ["h1"]);
        Node(graph, "Tanh", ["h1"], ["h2"]);
        Node(graph, "LayerNormalization", ["h2", "ln_weight", "ln_bias"], ["h3"], ("axis", -1L), ("epsilon", 1e-5f));
        var last = "h3";
        for (var b = 0; b < blocks; b++)
        {
            Node(graph, "LayerNormalization", [last, "ln_weight", "ln_bias"], [$"b{b}_ln"], ("axis", -1L), ("epsilon", 1e-5f));
            Node(graph, "MatMul", [$"b{b}_ln", $"b{b}_up"], [$"b{b}_wide"]);
            Node(graph, "Tanh", [$"b{b}_wide"], [$"b{b}_act"]);
            Node(graph, "MatMul", [$"b{b}_act", $"b{b}_down"], [$"b{b}_narrow"]);
            Node(graph, "Add", [last, $"b{b}_narrow"], [$"b{b}_out"]);
            last = $"b{b}_out";
        }

        Node(graph, "MatMul", [last, "output_weight"], ["last_hidden_state"]);
        graph.String(2, "cocoon-synthetic-bert");
        graph.Message(5, FloatTensor("word_embeddings", [vocab, d], random.Floats(vocab * d, 1f)));
        graph.Message(5, FloatTensor("position_embeddings", [MaxPositions, d], random.Floats(MaxPositions * d, 0.5f)));
        graph.Message(5, FloatTensor("dense_weight", [d, d], random.Floats(d * d, 0.3f)));
        graph.Message(5, FloatTensor("dense_bias", [d], random.Floats(d, 0.1f)));
        graph.Message(5, FloatTensor("ln_weight", [d], [.. random.Floats(d, 0.2f).Select(x => 1f + x)]));
        graph.Message(5, FloatTensor("ln_bias", [d], random.Floats(d, 0.1f)));
        graph.Message(5, FloatTensor("output_weight", [d, d], random.Floats(d * d, 0.3f)));
        for (var b = 0; b < blocks; b++)
        {
            graph.Message(5, FloatTensor($"b{b}_up", [d, 4 * d], random.Floats(4 * d * d, 0.1f)));
            graph.Message(5, FloatTensor($"b{b}_down", [4 * d, d], random.Floats(4 * d * d, 0.05f)));
        }

        graph.Message(5, Int64Tensor("zero", [], [0]));
        graph.Message(5, Int64Tensor("one", [], [1]));
        graph.Message(5, Int64Tensor("last_axis", [1], [-1]));
        graph.Message(5, Int64Tensor("seq_axis", [1], [1]));
        graph.Message(11, Input("input_ids", Int64, ["batch", "sequence"]));
        graph.Message(11, Input("attention_mask", Int64, ["batch", "sequence"]));
        graph.Message(12, Input("last_hidden_state", Float, ["batch", "sequence", d.ToString(System.Globalization.CultureInfo.InvariantCulture)]));

        var opset = new Proto();
        opset.String(1, string.Empty);
        opset.Varint(2, OpsetVersion);
        var model = new Proto();
        model.Varint(1, IrVersion);
        model.String(2, "cocoon-tests");
        model.String(3, "1");
        model.Message(7, graph);
        model.Message(8, opset);
        return model.ToArray();
    }

    private static void Node(Proto graph, string op, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes)
    {
        var node = new Proto();
        foreach (var i in inputs)
        {
            node.String(1, i);
        }

        foreach (var o in outputs)
        {
            node.String(2, o);
        }

        node.String(3, outputs[0] + "_node");
        node.String(4, op);
        foreach (var (name, value) in attributes)
        {
            // AttributeProto: name = 1, f = 2, i = 3, type = 20 (FLOAT = 1, INT = 2).
            var a = new Proto();
            a.String(1, name);
            if (value is float f)
            {
                a.Fixed32(2, BitConverter.SingleToUInt32Bits(f));
                a.Varint(20, 1);
            }
            else
            {
                a.Varint(3, (long)value);
                a.Varint(20, 2);
            }

            node.Message(5, a);
        }

        graph.Message(1, node);
    }

    // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9 (little-endian).
    private static Proto FloatTensor(string name, long[] dims, float[] values)
    {
        var raw = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), values[i]);
        }

        return Tensor(name, dims, Float, raw);
    }

    private static Proto Int64Tensor(string name, long[] dims, long[] values)
    {
        var raw = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), values[i]);
        }

        return Tensor(name, dims, Int64, raw);
    }

    private static Proto Tensor(string name, long[] dims, int type, byte[] raw)
    {
        var t = new Proto();
        foreach (var dim in dims)
        {
            t.Varint(1, dim);
        }

        t.Varint(2, type);
        t.String(8, name);
        t.Bytes(9, raw);
        return t;
    }

    // ValueInfoProto: name = 1, type = 2; TypeProto.tensor_type = 1; Tensor: elem_type = 1, shape = 2;
    // TensorShapeProto.dim = 1; Dimension: dim_value = 1, dim_param = 2.
    private static Proto Input(string name, int elementType, string[] dims)
    {
        var shape = new Proto();
        foreach (var dim in dims)
        {
            var d = new Proto();
            if (long.TryParse(dim, System.Globalization.CultureInfo.InvariantCulture, out var value))
            {
                d.Varint(1, value);
            }
            else
            {
                d.String(2, dim);
            }

            shape.Message(1, d);
        }

        var tensor = new Proto();
        tensor.Varint(1, elementType);
        tensor.Message(2, shape);
        var type = new Proto();
        type.Message(1, tensor);
        var info = new Proto();
        info.String(1, name);
        info.Message(2, type);
        return info;
    }

    private static List<string> BuildVocabulary()
    {
        var vocab = new List<string> { "[PAD]" };
        for (var i = 1; i < 100; i++)
        {
            vocab.Add($"[unused{i}]");
        }

        vocab.AddRange(["[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
        vocab.AddRange([".", ",", "!", "?", "'", "-", ":", ";", "(", ")"]);
        for (var c = 'a'; c <= 'z'; c++)
        {
            vocab.Add(c.ToString());
        }

        for (var c = '0'; c <= '9'; c++)
        {
            vocab.Add(c.ToString());
        }

        for (var c = 'a'; c <= 'z'; c++)
        {
            vocab.Add("##" + c);
        }

        for (var c = '0'; c <= '9'; c++)
        {
            vocab.Add("##" + c);
        }

        vocab.AddRange([
            "the", "a", "an", "and", "or", "of", "to", "in", "on", "is", "it", "was", "for", "with", "as", "at", "by", "from",
            "cat", "dog", "sat", "mat", "once", "upon", "time", "there", "who", "what", "how", "why", "private", "network",
            "telegram", "ton", "model", "embed", "vector", "search", "query", "knowledge", "base", "cache", "hello", "world",
            "##ed", "##ing", "##ly", "##er", "##est", "##ion", "##ings",
        ]);

        // A vocabulary lists each token once (BertTokenizer refuses duplicates).
        return [.. vocab.Distinct(StringComparer.Ordinal)];
    }

    /// <summary>A fixed-seed generator, so the weights do not depend on System.Random's algorithm across .NET versions.</summary>
    private sealed class Xorshift(ulong seed)
    {
        private ulong _state = seed;

        public float[] Floats(int count, float scale)
        {
            var values = new float[count];
            for (var i = 0; i < count; i++)
            {
                _state ^= _state << 13;
                _state ^= _state >> 7;
                _state ^= _state << 17;
                // Uniform in [-scale, scale).
                values[i] = (float)(((_state >> 40) / (double)(1UL << 24) * 2.0) - 1.0) * scale;
            }

            return values;
        }
    }

    /// <summary>The little of the protobuf wire format ONNX needs: varints, fixed32, length-delimited fields.</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _bytes = new();

        public void Varint(int field, long value)
        {
            Tag(field, 0);
            Raw((ulong)value);
        }

        public void Fixed32(int field, uint value)
        {
            Tag(field, 5);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, value);
            _bytes.Write(b);
        }

        public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public void Message(int field, Proto message) => Bytes(field, message.ToArray());

        public void Bytes(int field, byte[] value)
        {
            Tag(field, 2);
            Raw((ulong)value.Length);
            _bytes.Write(value);
        }

        public byte[] ToArray() => _bytes.ToArray();

        private void Tag(int field, int wireType) => Raw(((ulong)field << 3) | (uint)wireType);

        private void Raw(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            _bytes.WriteByte((byte)value);
        }
    }
}
