using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Cocoon.Engine.Protocol;

namespace Cocoon.Worker.Native;

/// <summary>A GGUF model loaded into llama.cpp, with its vocabulary: tokenizing, pieces and the chat template.</summary>
internal sealed unsafe class LlamaModel : IDisposable
{
    private static ReadOnlySpan<byte> GgufMagic => "GGUF"u8;

    private LlamaModel(SafeLlamaModelHandle handle, string path)
    {
        Handle = handle;
        Path = path;
        Vocab = LlamaNative.llama_model_get_vocab(handle);
        if (Vocab == 0)
        {
            throw new LlamaException($"llama.cpp returned no vocabulary for {path}");
        }

        VocabSize = LlamaNative.llama_vocab_n_tokens(Vocab);
        TrainedContextLength = LlamaNative.llama_model_n_ctx_train(handle);
        ParameterCount = (long)LlamaNative.llama_model_n_params(handle);
        Architecture = Metadata("general.architecture") ?? "unknown";
        var template = LlamaNative.llama_model_chat_template(handle, null);
        ChatTemplate = template == 0 ? null : Marshal.PtrToStringUTF8(template);
        HasEncoder = LlamaNative.llama_model_has_encoder(handle);
    }

    public SafeLlamaModelHandle Handle { get; }

    public string Path { get; }

    public nint Vocab { get; }

    public int VocabSize { get; }

    public int TrainedContextLength { get; }

    public long ParameterCount { get; }

    public string Architecture { get; }

    public string? ChatTemplate { get; }

    public bool HasEncoder { get; }

    /// <summary>
    /// Loads a GGUF file. The file is checked in managed code first (exists, GGUF magic) because llama.cpp's failures
    /// surface only as NULL plus a log line. Progress reports 0..1, never decreasing, on llama.cpp's loading thread; cancelling aborts the load through llama.cpp's
    /// progress callback.
    /// </summary>
    public static LlamaModel Load(string path, IProgress<float>? progress, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        cancellationToken.ThrowIfCancellationRequested();
        var full = System.IO.Path.GetFullPath(path);
        CheckGguf(full);

        var state = new LoadState(progress, cancellationToken);
        var stateHandle = GCHandle.Alloc(state);
        try
        {
            var parameters = LlamaNative.llama_model_default_params();
            parameters.ProgressCallback = (nint)(delegate* unmanaged[Cdecl]<float, void*, byte>)&OnProgress;
            parameters.ProgressCallbackUserData = GCHandle.ToIntPtr(stateHandle);
            var handle = new SafeLlamaModelHandle(LlamaNative.llama_model_load_from_file(full, parameters));
            if (handle.IsInvalid)
            {
                handle.Dispose();
                cancellationToken.ThrowIfCancellationRequested();
                throw new LlamaException(
                    $"llama.cpp could not load the model {full}: the GGUF is damaged, truncated or of an architecture this llama.cpp build does not know (see the llama.cpp log).");
            }

            try
            {
                return new LlamaModel(handle, full);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }
        finally
        {
            stateHandle.Free();
        }
    }

    internal static void CheckGguf(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The model file {path} does not exist. Set COCOON_MODEL (Worker:Model) to a GGUF file.", path);
        }

        Span<byte> magic = stackalloc byte[4];
        using (var stream = File.OpenRead(path))
        {
            if (stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) < 4 || !magic.SequenceEqual(GgufMagic))
            {
                throw new LlamaException($"{path} is not a GGUF model file (it does not start with 'GGUF'). Point COCOON_MODEL at a .gguf file.");
            }
        }
    }

    public string? Metadata(string key)
    {
        var keyBytes = Encoding.UTF8.GetBytes(key + "\0");
        var buffer = new byte[256];
        fixed (byte* k = keyBytes)
        fixed (byte* b = buffer)
        {
            var n = LlamaNative.llama_model_meta_val_str(Handle, k, b, (nuint)buffer.Length);
            return n < 0 ? null : Encoding.UTF8.GetString(buffer, 0, Math.Min(n, buffer.Length - 1));
        }
    }

    /// <summary>Tokenizes as llama.cpp's own tools do: BOS added if the vocabulary asks for it, special tokens parsed.</summary>
    public int[] Tokenize(string text, bool addSpecial = true, bool parseSpecial = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var bytes = Encoding.UTF8.GetBytes(text);
        var tokens = new int[bytes.Length + 2];
        fixed (byte* t = bytes)
        {
            int n;
            fixed (int* o = tokens)
            {
                n = LlamaNative.llama_tokenize(Vocab, t, bytes.Length, o, tokens.Length, addSpecial, parseSpecial);
            }

            if (n < 0)
            {
                tokens = new int[-n];
                fixed (int* o = tokens)
                {
                    n = LlamaNative.llama_tokenize(Vocab, t, bytes.Length, o, tokens.Length, addSpecial, parseSpecial);
                }

                if (n < 0)
                {
                    throw new LlamaException("llama_tokenize failed");
                }
            }

            return tokens.AsSpan(0, n).ToArray();
        }
    }

    /// <summary>The bytes of one token (a piece may end inside a UTF-8 character). Control tokens render as nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int TokenToPiece(int token, Span<byte> buffer, out byte[]? large)
    {
        large = null;
        fixed (byte* b = buffer)
        {
            var n = LlamaNative.llama_token_to_piece(Vocab, token, b, buffer.Length, 0, false);
            if (n >= 0)
            {
                return n;
            }

            large = new byte[-n];
            fixed (byte* l = large)
            {
                return LlamaNative.llama_token_to_piece(Vocab, token, l, large.Length, 0, false);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool IsEndOfGeneration(int token) => LlamaNative.llama_vocab_is_eog(Vocab, token);

    /// <summary>The beginning-of-sequence token, else token 0: what llama.cpp's own tools warm up on.</summary>
    public int WarmUpToken => LlamaNative.llama_vocab_bos(Vocab) is >= 0 and var bos && bos < VocabSize ? bos : 0;

    /// <summary>
    /// Every token's bytes as <see cref="TokenToPiece"/> gives them, made on first use and kept (a few MB for a large
    /// vocabulary): healing a resumed answer's last token scans them (Inference/TokenHealing).
    /// </summary>
    public byte[][] Pieces => LazyInitializer.EnsureInitialized(ref _pieces, () =>
    {
        var pieces = new byte[VocabSize][];
        Span<byte> buffer = stackalloc byte[256];
        for (var token = 0; token < pieces.Length; token++)
        {
            var n = TokenToPiece(token, buffer, out var large);
            pieces[token] = large ?? buffer[..Math.Max(0, n)].ToArray();
        }

        return pieces;
    });

    private byte[][]? _pieces;

    /// <summary>
    /// Renders chat messages with the model's template (llama_chat_apply_template, which knows llama.cpp's built-in
    /// templates). Without a template, or with one llama.cpp does not recognise, the plain format is used:
    /// one "Role: content" line per message ("System", "User", "Assistant"), then "Assistant:".
    /// </summary>
    public string RenderChat(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (ChatTemplate is not null && ApplyTemplate(ChatTemplate, messages) is { } rendered)
        {
            return rendered;
        }

        return PlainChat(messages);
    }

    internal static string PlainChat(IReadOnlyList<ChatMessage> messages)
    {
        var builder = new StringBuilder();
        foreach (var message in messages)
        {
            var role = message.Role.Length == 0 ? message.Role : char.ToUpperInvariant(message.Role[0]) + message.Role[1..];
            builder.Append(role).Append(": ").Append(message.Content).Append('\n');
        }

        return builder.Append("Assistant:").ToString();
    }

    internal static string? ApplyTemplate(string template, IReadOnlyList<ChatMessage> messages)
    {
        var strings = new List<GCHandle>();
        try
        {
            var native = new LlamaChatMessage[messages.Count];
            for (var i = 0; i < messages.Count; i++)
            {
                native[i].Role = Pin(messages[i].Role, strings);
                native[i].Content = Pin(messages[i].Content, strings);
            }

            var tmpl = Pin(template, strings);
            var capacity = 256 + (2 * messages.Sum(m => Encoding.UTF8.GetByteCount(m.Content) + 16));
            for (var attempt = 0; attempt < 2; attempt++)
            {
                var buffer = new byte[capacity];
                int n;
                fixed (LlamaChatMessage* chat = native)
                fixed (byte* b = buffer)
                {
                    n = LlamaNative.llama_chat_apply_template(tmpl, chat, (nuint)native.Length, true, b, buffer.Length);
                }

                if (n < 0)
                {
                    return null;
                }

                if (n <= buffer.Length)
                {
                    return Encoding.UTF8.GetString(buffer, 0, n);
                }

                capacity = n;
            }

            return null;
        }
        finally
        {
            foreach (var h in strings)
            {
                h.Free();
            }
        }
    }

    private static byte* Pin(string value, List<GCHandle> handles)
    {
        var bytes = Encoding.UTF8.GetBytes(value + "\0");
        var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
        handles.Add(handle);
        return (byte*)handle.AddrOfPinnedObject();
    }

    public void Dispose() => Handle.Dispose();

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static byte OnProgress(float progress, void* userData)
    {
        try
        {
            if (GCHandle.FromIntPtr((nint)userData).Target is not LoadState state)
            {
                return 1;
            }

            if (state.CancellationToken.IsCancellationRequested)
            {
                return 0;
            }

            // Never backwards, so a consumer's bar or log cannot drop from 100% to 0%, whatever llama.cpp reports.
            if (progress >= state.Last)
            {
                state.Last = progress;
                state.Progress?.Report(progress);
            }

            return 1;
        }
#pragma warning disable CA1031 // an exception must never unwind into native code
        catch (Exception)
#pragma warning restore CA1031
        {
            return 1;
        }
    }

    /// <summary>What the progress callback needs; Last is the highest value reported (llama.cpp calls from one thread).</summary>
    private sealed class LoadState(IProgress<float>? progress, CancellationToken cancellationToken)
    {
        public IProgress<float>? Progress { get; } = progress;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public float Last { get; set; } = float.NegativeInfinity;
    }
}
