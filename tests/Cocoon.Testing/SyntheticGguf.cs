using System.Buffers.Binary;
using System.Text;

namespace Cocoon.Testing;

/// <summary>
/// Writes a llama-architecture GGUF with random Q8_0 weights: a model of real size for the batching benchmark, where
/// weight reads, not per-step overhead, bound the speed. The shape is a 32-layer, 960-wide decoder (~315M parameters,
/// ~335 MB), close to the 359M-parameter Q8_0 model llama.cpp's batched benchmark was measured on here. The tokenizer
/// is copied from a donor GGUF (the small model), so prompts tokenize as usual. The output rows of the end-of-generation
/// tokens are zero, so their logit is exactly 0 while greedy picks the largest of the others (almost surely > 0): every
/// stream generates its full length. The text is meaningless; only its speed is measured.
/// </summary>
public static class SyntheticGguf
{
    private const uint GgufVersion = 3;
    private const int Alignment = 32; // general.alignment default
    private const uint TypeF32 = 0;
    private const uint TypeQ80 = 8;
    private const int BlockValues = 32; // Q8_0: one f16 scale and 32 int8 per block
    private const int BlockBytes = 34;

    public sealed record Shape(int Embedding, int Layers, int Heads, int KvHeads, int FeedForward)
    {
        public static Shape Default { get; } = new(960, 32, 15, 5, 2560);

        public long Parameters(int vocab) =>
            2L * Embedding * vocab + Embedding
            + Layers * ((2L * Embedding * Embedding) + (2L * Embedding * (Embedding / Heads * KvHeads)) + (3L * Embedding * FeedForward) + (2L * Embedding));
    }

    /// <summary>Writes the model to <paramref name="path"/> unless a complete one is already there; returns the path.</summary>
    public static async Task<string> EnsureAsync(string path, string tokenizerDonor, Shape shape, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (File.Exists(path))
        {
            return path;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var donor = ReadTokenizer(await File.ReadAllBytesAsync(tokenizerDonor, cancellationToken).ConfigureAwait(false), out var vocab, out var endTokens);
        var tensors = Tensors(shape, vocab);
        var partial = path + ".partial";
        await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
        {
            await file.WriteAsync(Header(shape, donor, tensors), cancellationToken).ConfigureAwait(false);
            var random = new Random(20261124);
            long written = 0, total = tensors.Sum(t => t.Bytes);
            var lastShown = -1L;
            foreach (var t in tensors)
            {
                var data = t.Type == TypeF32 ? Ones(t.Elements) : RandomQ80(random, t, t.Name == "output.weight" ? endTokens : []);
                await file.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                await file.WriteAsync(new byte[Pad(data.Length)], cancellationToken).ConfigureAwait(false);
                written += t.Bytes;
                if (written * 10 / total != lastShown)
                {
                    lastShown = written * 10 / total;
                    Console.Error.Write($"\rwriting {Path.GetFileName(path)}: {lastShown * 10}%");
                }
            }

            Console.Error.WriteLine();
        }

        File.Move(partial, path, overwrite: true);
        return path;
    }

    private sealed record Tensor(string Name, long[] Dims, uint Type)
    {
        public long Elements => Dims.Aggregate(1L, (a, b) => a * b);

        public long Bytes => Type == TypeF32 ? Elements * 4 : Elements / BlockValues * BlockBytes;
    }

    private static List<Tensor> Tensors(Shape s, int vocab)
    {
        var kv = s.Embedding / s.Heads * s.KvHeads;
        var list = new List<Tensor>
        {
            new("token_embd.weight", [s.Embedding, vocab], TypeQ80),
            new("output_norm.weight", [s.Embedding], TypeF32),
            new("output.weight", [s.Embedding, vocab], TypeQ80),
        };
        for (var i = 0; i < s.Layers; i++)
        {
            list.Add(new($"blk.{i}.attn_norm.weight", [s.Embedding], TypeF32));
            list.Add(new($"blk.{i}.attn_q.weight", [s.Embedding, s.Embedding], TypeQ80));
            list.Add(new($"blk.{i}.attn_k.weight", [s.Embedding, kv], TypeQ80));
            list.Add(new($"blk.{i}.attn_v.weight", [s.Embedding, kv], TypeQ80));
            list.Add(new($"blk.{i}.attn_output.weight", [s.Embedding, s.Embedding], TypeQ80));
            list.Add(new($"blk.{i}.ffn_norm.weight", [s.Embedding], TypeF32));
            list.Add(new($"blk.{i}.ffn_gate.weight", [s.Embedding, s.FeedForward], TypeQ80));
            list.Add(new($"blk.{i}.ffn_up.weight", [s.Embedding, s.FeedForward], TypeQ80));
            list.Add(new($"blk.{i}.ffn_down.weight", [s.FeedForward, s.Embedding], TypeQ80));
        }

        return list;
    }

    private static byte[] Header(Shape s, List<byte[]> tokenizerEntries, List<Tensor> tensors)
    {
        using var stream = new MemoryStream();
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write("GGUF"u8);
        w.Write(GgufVersion);
        w.Write((ulong)tensors.Count);
        var own = new List<Action>
        {
            () => String("general.architecture", "llama"),
            () => String("general.name", "synthetic-q8_0"),
            () => U32("llama.context_length", 4096),
            () => U32("llama.embedding_length", (uint)s.Embedding),
            () => U32("llama.feed_forward_length", (uint)s.FeedForward),
            () => U32("llama.attention.head_count", (uint)s.Heads),
            () => U32("llama.attention.head_count_kv", (uint)s.KvHeads),
            () => U32("llama.block_count", (uint)s.Layers),
            () => U32("llama.rope.dimension_count", (uint)(s.Embedding / s.Heads)),
            () => F32("llama.attention.layer_norm_rms_epsilon", 1e-5f),
        };
        w.Write((ulong)(own.Count + tokenizerEntries.Count));
        foreach (var write in own)
        {
            write();
        }

        foreach (var entry in tokenizerEntries)
        {
            w.Write(entry);
        }

        long offset = 0;
        foreach (var t in tensors)
        {
            Key(t.Name);
            w.Write((uint)t.Dims.Length);
            foreach (var d in t.Dims)
            {
                w.Write((ulong)d);
            }

            w.Write(t.Type);
            w.Write((ulong)offset);
            offset += t.Bytes + Pad(t.Bytes);
        }

        w.Write(new byte[Pad(stream.Position)]);
        w.Flush();
        return stream.ToArray();

        void Key(string key)
        {
            var bytes = Encoding.UTF8.GetBytes(key);
            w.Write((ulong)bytes.Length);
            w.Write(bytes);
        }

        void String(string key, string value)
        {
            Key(key);
            w.Write(8u);
            Key(value);
        }

        void U32(string key, uint value)
        {
            Key(key);
            w.Write(4u);
            w.Write(value);
        }

        void F32(string key, float value)
        {
            Key(key);
            w.Write(6u);
            w.Write(value);
        }
    }

    private static int Pad(long length) => (int)((Alignment - (length % Alignment)) % Alignment);

    private static byte[] Ones(long count)
    {
        var data = new byte[count * 4];
        for (var i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), 1f);
        }

        return data;
    }

    // Uniform weights of about +-0.02 (a typical init scale); zero rows for the tokens listed.
    private static byte[] RandomQ80(Random random, Tensor t, List<int> zeroRows)
    {
        var data = new byte[t.Bytes];
        random.NextBytes(data);
        var scale = BitConverter.HalfToUInt16Bits((Half)(0.02f / 127));
        var rowBlocks = t.Dims[0] / BlockValues;
        for (long b = 0; b < data.Length / BlockBytes; b++)
        {
            var zero = zeroRows.Count > 0 && zeroRows.Contains((int)(b / rowBlocks));
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan((int)(b * BlockBytes)), zero ? (ushort)0 : scale);
            if (zero)
            {
                data.AsSpan((int)(b * BlockBytes) + 2, BlockValues).Clear();
            }
        }

        return data;
    }

    /// <summary>The donor's tokenizer.* entries, verbatim; its vocabulary size and end-of-generation token ids.</summary>
    private static List<byte[]> ReadTokenizer(byte[] gguf, out int vocab, out List<int> endTokens)
    {
        if (gguf.Length < 24 || !gguf.AsSpan(0, 4).SequenceEqual("GGUF"u8) || BinaryPrimitives.ReadUInt32LittleEndian(gguf.AsSpan(4)) != GgufVersion)
        {
            throw new InvalidDataException("The tokenizer donor is not a GGUF v3 file.");
        }

        var kvCount = BinaryPrimitives.ReadInt64LittleEndian(gguf.AsSpan(16));
        var at = 24;
        var entries = new List<byte[]>();
        vocab = 0;
        endTokens = [];
        for (var i = 0; i < kvCount; i++)
        {
            var start = at;
            var key = ReadString(gguf, ref at);
            var type = BinaryPrimitives.ReadUInt32LittleEndian(gguf.AsSpan(at));
            at += 4;
            var valueAt = at;
            SkipValue(gguf, type, ref at);
            if (!key.StartsWith("tokenizer.", StringComparison.Ordinal))
            {
                continue;
            }

            entries.Add(gguf[start..at]);
            if (key == "tokenizer.ggml.tokens")
            {
                vocab = (int)BinaryPrimitives.ReadInt64LittleEndian(gguf.AsSpan(valueAt + 4));
            }
            else if (key is "tokenizer.ggml.eos_token_id" or "tokenizer.ggml.eot_token_id" && type == 4)
            {
                endTokens.Add((int)BinaryPrimitives.ReadUInt32LittleEndian(gguf.AsSpan(valueAt)));
            }
        }

        if (vocab == 0)
        {
            throw new InvalidDataException("The tokenizer donor has no tokenizer.ggml.tokens.");
        }

        return entries;
    }

    private static string ReadString(byte[] gguf, ref int at)
    {
        var length = (int)BinaryPrimitives.ReadInt64LittleEndian(gguf.AsSpan(at));
        var text = Encoding.UTF8.GetString(gguf, at + 8, length);
        at += 8 + length;
        return text;
    }

    private static void SkipValue(byte[] gguf, uint type, ref int at)
    {
        switch (type)
        {
            case 0 or 1 or 7: at += 1; break;
            case 2 or 3: at += 2; break;
            case 4 or 5 or 6: at += 4; break;
            case 10 or 11 or 12: at += 8; break;
            case 8: ReadString(gguf, ref at); break;
            case 9:
                var elementType = BinaryPrimitives.ReadUInt32LittleEndian(gguf.AsSpan(at));
                var count = BinaryPrimitives.ReadInt64LittleEndian(gguf.AsSpan(at + 4));
                at += 12;
                for (long i = 0; i < count; i++)
                {
                    SkipValue(gguf, elementType, ref at);
                }

                break;
            default: throw new InvalidDataException($"Unknown GGUF value type {type} in the tokenizer donor.");
        }
    }
}
