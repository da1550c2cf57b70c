using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Native;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Inference;

/// <summary>
/// llama.cpp inference with continuous batching: one model, one context, one decode thread. Every request is a
/// sequence in the shared KV cache; requests join between decode steps and free their sequence as soon as they end.
/// A cancelled request ends with a final chunk whose finish reason is Cancelled (its usage still counts what ran).
/// </summary>
public sealed partial class LlamaInferenceService : IInferenceService, IDisposable
{
    private static readonly string[] Roles = ["system", "user", "assistant", "tool"];

    private readonly LlamaModel _model;
    private readonly SafeLlamaContextHandle _context;
    private readonly SafeGgmlThreadpoolHandle? _threadpool;
    private readonly nint _memory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<Sequence> _queue;
    private readonly Thread _thread;
    private readonly SequenceSlots _slots;
    private readonly List<Sequence> _active = [];
    private readonly int _batchCapacity;
    private readonly long _chunkInterval;
    // Pinned so llama.cpp's abort callback can read it while cancellation callbacks write it through the array.
    private readonly int[] _abortFlag = GC.AllocateArray<int>(1, pinned: true);
    private readonly unsafe int* _tokens;
    private readonly unsafe int* _positions;
    private readonly unsafe int* _nSeqId;
    private readonly unsafe int* _seqIdStorage;
    private readonly unsafe int** _seqIds;
    private readonly unsafe sbyte* _logits;
    private int _disposed;
    private int _freeSequences;
    private long _decodeSteps;
    private long _decodeTicks;
    private long _hostTicks;

    private unsafe LlamaInferenceService(LlamaModel model, LlamaInferenceOptions options, string sha256, ILogger logger, TimeProvider time)
    {
        _model = model;
        _logger = logger;
        _time = time;
        var threads = options.Threads > 0 ? options.Threads : Environment.ProcessorCount;
        var parameters = LlamaNative.llama_context_default_params();
        parameters.NCtx = checked((uint)(options.ContextSize * options.MaxConcurrency));
        parameters.NSeqMax = (uint)options.MaxConcurrency;
        parameters.NBatch = (uint)options.BatchSize;
        parameters.NUbatch = (uint)options.BatchSize;
        parameters.NThreads = threads;
        parameters.NThreadsBatch = threads;

        parameters.KvUnified = options.KvUnified ? (byte)1 : (byte)0;
        parameters.NoPerf = 1;
        parameters.AbortCallback = (nint)(delegate* unmanaged[Cdecl]<void*, byte>)&OnAbort;
        parameters.AbortCallbackData = (nint)Unsafe.AsPointer(ref _abortFlag[0]);
        _context = SafeLlamaContextHandle.Create(model.Handle, parameters);
        try
        {
            _threadpool = SafeGgmlThreadpoolHandle.TryCreate(threads, options.ThreadPoll);
            if (_threadpool is not null)
            {
                _context.AttachThreadpool(_threadpool);
            }
        }
        catch
        {
            _context.Dispose();
            throw;
        }

        _memory = LlamaNative.llama_get_memory(_context);
        _chunkInterval = options.ChunkIntervalMs * System.Diagnostics.Stopwatch.Frequency / 1000;

        // A unified cache lets one sequence grow into the others' share; holding each to ContextSize keeps every
        // admitted request's room guaranteed.
        ContextLength = Math.Min(options.ContextSize, (int)LlamaNative.llama_n_ctx_seq(_context));
        MaxConcurrency = (int)LlamaNative.llama_n_seq_max(_context);
        _batchCapacity = (int)LlamaNative.llama_n_batch(_context);
        _slots = new SequenceSlots(MaxConcurrency);

        _freeSequences = MaxConcurrency;

        _tokens = Alloc<int>(_batchCapacity);
        _positions = Alloc<int>(_batchCapacity);
        _nSeqId = Alloc<int>(_batchCapacity);
        _seqIdStorage = Alloc<int>(_batchCapacity);
        _seqIds = (int**)NativeMemory.AllocZeroed((nuint)(_batchCapacity * sizeof(int*)));
        _logits = Alloc<sbyte>(_batchCapacity);
        for (var i = 0; i < _batchCapacity; i++)
        {
            _seqIds[i] = _seqIdStorage + i;
            _nSeqId[i] = 1;
        }

        Model = new ModelInfo(
            Path.GetFileNameWithoutExtension(model.Path),
            sha256,
            model.Architecture,
            model.ParameterCount,
            model.TrainedContextLength,
            ContextLength,
            model.ChatTemplate is not null);

        _queue = Channel.CreateBounded<Sequence>(new BoundedChannelOptions(options.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _thread = new Thread(Run) { IsBackground = true, Name = "llama-decode" };
        _thread.Start();
        LogReady(logger, Model.Name, Model.Architecture, Model.ParameterCount, ContextLength, MaxConcurrency, threads);
    }

    public ModelInfo Model { get; }

    public int MaxConcurrency { get; }

    /// <summary>llama_decode calls so far, aborted ones included (lets tests see how soon a cancellation acts).</summary>
    internal long DecodeSteps => Volatile.Read(ref _decodeSteps);

    /// <summary>
    /// Where the decode thread's busy time went since start: inside llama_decode, and in this service around it
    /// (admitting, building the batch, sampling, detokenizing, handing out text). Idle waits count in neither.
    /// </summary>
    public DecodeLoopStats Stats => new(
        Volatile.Read(ref _decodeSteps),
        TimeSpan.FromSeconds(Volatile.Read(ref _decodeTicks) / (double)System.Diagnostics.Stopwatch.Frequency),
        TimeSpan.FromSeconds(Volatile.Read(ref _hostTicks) / (double)System.Diagnostics.Stopwatch.Frequency));

    /// <summary>Sequence slots not in use right now.</summary>
    public int FreeSequences => Volatile.Read(ref _freeSequences);

    /// <summary>Tokens of context each sequence has (prompt + completion).</summary>
    public int ContextLength { get; }

    /// <summary>Loads llama.cpp, the model and a context. Progress reports 0..1 while the weights load; cancellable.</summary>
    public static async Task<LlamaInferenceService> LoadAsync(
        LlamaInferenceOptions options,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider,
        IProgress<float>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(timeProvider);
        options.Validate();
        var backend = LlamaLibraryLocator.ParseBackend(options.Backend);
        var location = LlamaLibraryLocator.Locate(backend, options.LibraryDir, Environment.GetEnvironmentVariable, CanLoadSystemLibrary);
        LlamaLibrary.EnsureLoaded(location, loggerFactory.CreateLogger("Cocoon.Worker.Native.LlamaCpp"));

        var path = ModelLocator.Resolve(options.Model, Environment.CurrentDirectory);
        var dataDir = Path.GetFullPath(options.DataDir is { Length: > 0 } d ? d : Network.Hosting.CocoonEnvironment.DefaultDataDir);
        LlamaModel.CheckGguf(path);
        var hash = ModelIdentity.Sha256Async(path, dataDir, cancellationToken);
        var model = await Task.Run(() => LlamaModel.Load(path, progress, cancellationToken), cancellationToken).ConfigureAwait(false);
        try
        {
            if (model.HasEncoder)
            {
                throw new LlamaException($"{path} is an encoder-decoder model; the worker serves decoder-only (causal) models.");
            }

            return new LlamaInferenceService(model, options, await hash.ConfigureAwait(false), loggerFactory.CreateLogger<LlamaInferenceService>(), timeProvider);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    internal static bool CanLoadSystemLibrary(string name)
    {
        if (!NativeLibrary.TryLoad(name, out var handle))
        {
            return false;
        }

        NativeLibrary.Free(handle);
        return true;
    }

    public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var sequence = new Sequence(Prepare(request), request.Sampling);
        using var registration = cancellationToken.Register(
            static state =>
            {
                var (s, abortFlag) = ((Sequence, int[]))state!;
                s.Cancel();

                // Stops the decode step in flight (llama.cpp polls this through the abort callback).
                Volatile.Write(ref abortFlag[0], 1);
            },
            (sequence, _abortFlag));
        var enqueued = false;
        try
        {
            try
            {
                await _queue.Writer.WriteAsync(sequence, cancellationToken).ConfigureAwait(false);
                enqueued = true;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            catch (ChannelClosedException)
            {
                throw new ObjectDisposedException(nameof(LlamaInferenceService));
            }

            if (!enqueued)
            {
                yield return new GenerationChunk(string.Empty, new GenerationUsage(sequence.PromptTokens.Length, 0, FinishReason.Cancelled, TimeSpan.Zero, TimeSpan.Zero));
                yield break;
            }

            await foreach (var chunk in sequence.Output.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                yield return chunk;
            }
        }
        finally
        {
            // A consumer that stops reading early frees the slot too.
            if (sequence.Cancel() && enqueued)
            {
                Volatile.Write(ref _abortFlag[0], 1);
            }
        }
    }

    /// <summary>Validates a request and tokenizes its prompt; every check llama.cpp would assert on happens here.</summary>
    internal int[] Prepare(GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var s = request.Sampling ?? throw new ArgumentException("Sampling is required.", nameof(request));
        if (s.MaxTokens <= 0)
        {
            throw new ArgumentException($"MaxTokens is {s.MaxTokens}: it must be at least 1.", nameof(request));
        }

        if (s.MaxTokens >= ContextLength)
        {
            throw new ArgumentException($"MaxTokens is {s.MaxTokens}, beyond this worker's context of {ContextLength} tokens per request (prompt included).", nameof(request));
        }

        if (!float.IsFinite(s.Temperature) || s.Temperature < 0)
        {
            throw new ArgumentException($"Temperature is {s.Temperature}: it must be 0 (greedy) or more.", nameof(request));
        }

        if (!float.IsFinite(s.TopP) || s.TopP <= 0 || s.TopP > 1)
        {
            throw new ArgumentException($"TopP is {s.TopP}: it must be in (0, 1].", nameof(request));
        }

        if (s.TopK < 0)
        {
            throw new ArgumentException($"TopK is {s.TopK}: it must be 0 (off) or more.", nameof(request));
        }

        if (!float.IsFinite(s.MinP) || s.MinP < 0 || s.MinP > 1)
        {
            throw new ArgumentException($"MinP is {s.MinP}: it must be in [0, 1].", nameof(request));
        }

        if (!float.IsFinite(s.RepetitionPenalty) || s.RepetitionPenalty <= 0 || s.RepetitionPenalty > 10)
        {
            throw new ArgumentException($"RepetitionPenalty is {s.RepetitionPenalty}: it must be in (0, 10]; 1 means off.", nameof(request));
        }

        if (s.Stop is null || s.Stop.Count > 16 || s.Stop.Any(x => string.IsNullOrEmpty(x) || x.Length > 256))
        {
            throw new ArgumentException("Stop must be at most 16 non-empty strings of up to 256 characters.", nameof(request));
        }

        string text;
        if (request.Messages is { } messages)
        {
            if (request.Prompt is not null)
            {
                throw new ArgumentException("Give either Messages or Prompt, not both.", nameof(request));
            }

            if (messages.Count == 0 || messages.Any(m => m is null || m.Content is null || !Roles.Contains(m.Role)))
            {
                throw new ArgumentException("Messages must be non-empty, each with content and a role of system, user, assistant or tool.", nameof(request));
            }

            if (messages.All(m => string.IsNullOrWhiteSpace(m.Content)))
            {
                throw new ArgumentException("The messages are empty.", nameof(request));
            }

            text = _model.RenderChat(messages);
        }
        else
        {
            if (string.IsNullOrEmpty(request.Prompt))
            {
                throw new ArgumentException("The prompt is empty.", nameof(request));
            }

            text = request.Prompt;
        }

        var tokens = _model.Tokenize(text);
        if (tokens.Length == 0)
        {
            throw new ArgumentException("The prompt has no tokens.", nameof(request));
        }

        if (tokens.Length >= ContextLength)
        {
            throw new ArgumentException($"The prompt is {tokens.Length} tokens, longer than this worker's context of {ContextLength} tokens per request.", nameof(request));
        }

        return tokens;
    }

    private void Run()
    {
        try
        {
            Loop();
        }
#pragma warning disable CA1031 // the decode thread must fail every waiting request, not crash the process
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogLoopFailed(_logger, ex);
            foreach (var s in _active)
            {
                s.Output.Writer.TryComplete(new LlamaException("The inference service failed; see the worker log.", ex));
            }

            _queue.Writer.TryComplete();
            while (_queue.Reader.TryRead(out var queued))
            {
                queued.Output.Writer.TryComplete(new LlamaException("The inference service failed; see the worker log.", ex));
            }
        }
    }

    private unsafe void Loop()
    {
        while (true)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                foreach (var s in _active.ToArray())
                {
                    Finish(s, FinishReason.Cancelled);
                }

                while (_queue.Reader.TryRead(out var queued))
                {
                    Finish(queued, FinishReason.Cancelled);
                }

                return;
            }

            var stepStart = System.Diagnostics.Stopwatch.GetTimestamp();
            Admit();
            if (_active.Count == 0)
            {
                if (!_queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
                {
                    return;
                }

                continue;
            }

            Volatile.Write(ref _abortFlag[0], 0);
            foreach (var s in _active.ToArray())
            {
                if (s.IsCancelled)
                {
                    Finish(s, FinishReason.Cancelled);
                }
            }

            var n = BuildBatch();
            if (n == 0)
            {
                continue;
            }

            var batch = new LlamaBatch { NTokens = n, Token = _tokens, Pos = _positions, NSeqId = _nSeqId, SeqId = _seqIds, Logits = _logits };
            var decodeStart = System.Diagnostics.Stopwatch.GetTimestamp();
            var rc = LlamaNative.llama_decode(_context, batch);
            var decodeEnd = System.Diagnostics.Stopwatch.GetTimestamp();
            Interlocked.Increment(ref _decodeSteps);
            Volatile.Write(ref _decodeTicks, _decodeTicks + (decodeEnd - decodeStart));
            if (rc == 2)
            {
                // Aborted for a cancellation: drop what part of the batch got into the cache, then decode again without it.
                RollBack();
                continue;
            }

            if (rc != 0)
            {
                RollBack();
                var reason = rc == 1 ? FinishReason.ContextFull : FinishReason.Stop;
                LogDecodeFailed(_logger, rc, _active.Count);
                foreach (var s in _active.ToArray())
                {
                    if (rc == 1)
                    {
                        Finish(s, reason);
                    }
                    else
                    {
                        Fail(s, new LlamaException($"llama_decode failed with {rc}"));
                    }
                }

                continue;
            }

            Sample();
            Volatile.Write(ref _hostTicks, _hostTicks + (System.Diagnostics.Stopwatch.GetTimestamp() - stepStart) - (decodeEnd - decodeStart));
        }
    }

    private void Admit()
    {
        while (_slots.Free > 0 && _queue.Reader.TryRead(out var s))
        {
            if (s.IsCancelled)
            {
                Finish(s, FinishReason.Cancelled);
                continue;
            }

            try
            {
                s.Sampler = CreateSampler(s.Sampling);
            }
#pragma warning disable CA1031 // reported to that request's consumer
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Fail(s, ex);
                continue;
            }

            s.SeqId = _slots.Take();
            Volatile.Write(ref _freeSequences, _slots.Free);
            s.StartedAt = _time.GetTimestamp();
            SequenceSlots.Order(_active, s, a => a.SeqId);
        }
    }

    private int BuildBatch()
    {
        var n = 0;

        // Running sequences first: one token each keeps their latency flat while new prompts are prefilled.
        foreach (var s in _active)
        {
            s.PositionBeforeBatch = s.Position;
            s.PromptFedBeforeBatch = s.PromptFed;
            s.OutputIndex = -1;
            if (!s.IsPrefilling && n < _batchCapacity)
            {
                Add(ref n, s.NextToken, s.Position++, s.SeqId, output: true, s);
            }
        }

        foreach (var s in _active)
        {
            while (s.IsPrefilling && n < _batchCapacity)
            {
                var last = s.PromptFed == s.PromptTokens.Length - 1;
                Add(ref n, s.PromptTokens[s.PromptFed++], s.Position++, s.SeqId, last, s);
            }
        }

        return n;
    }

    private unsafe void Add(ref int n, int token, int position, int seqId, bool output, Sequence s)
    {
        _tokens[n] = token;
        _positions[n] = position;
        _seqIdStorage[n] = seqId;
        _logits[n] = output ? (sbyte)1 : (sbyte)0;
        if (output)
        {
            s.OutputIndex = n;
        }

        n++;
    }

    private void RollBack()
    {
        foreach (var s in _active)
        {
            if (s.Position != s.PositionBeforeBatch)
            {
                LlamaNative.llama_memory_seq_rm(_memory, s.SeqId, s.PositionBeforeBatch, -1);
                s.PromptFed = s.PromptFedBeforeBatch;
                s.Position = s.PositionBeforeBatch;
            }

            s.OutputIndex = -1;
        }
    }

    private void Sample()
    {
        Span<byte> piece = stackalloc byte[256];
        foreach (var s in _active.ToArray())
        {
            if (s.OutputIndex < 0)
            {
                continue;
            }

            if (s.CompletionTokens == 0)
            {
                s.FirstTokenAt = _time.GetTimestamp();
            }

            var token = LlamaNative.llama_sampler_sample(s.Sampler!, _context, s.OutputIndex);
            if (_model.IsEndOfGeneration(token))
            {
                Finish(s, FinishReason.Stop);
                continue;
            }

            s.CompletionTokens++;
            var length = _model.TokenToPiece(token, piece, out var large);
            var text = s.Text.Push(large ?? piece[..length]);
            if (text.Length > 0)
            {
                Deliver(s, text);
            }

            if (s.Text.Stopped)
            {
                Finish(s, FinishReason.Stop);
            }
            else if (s.CompletionTokens >= s.Sampling.MaxTokens)
            {
                Finish(s, FinishReason.Length);
            }
            else if (s.Position >= ContextLength)
            {
                Finish(s, FinishReason.ContextFull);
            }
            else
            {
                s.NextToken = token;
            }
        }
    }

    // The first text goes out at once; later text waits until ChunkInterval has passed since the last chunk.
    private void Deliver(Sequence s, string text)
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        if (s.LastChunkAt != 0 && now - s.LastChunkAt < _chunkInterval)
        {
            s.Pending.Append(text);
            return;
        }

        if (s.Pending.Length > 0)
        {
            text = s.Pending.Append(text).ToString();
            s.Pending.Clear();
        }

        s.Output.Writer.TryWrite(new GenerationChunk(text));
        s.LastChunkAt = now;
    }

    private void Finish(Sequence s, FinishReason reason)
    {
        var rest = s.Pending.Append(s.Text.Flush()).ToString();
        s.Pending.Clear();
        if (rest.Length > 0)
        {
            s.Output.Writer.TryWrite(new GenerationChunk(rest));
        }

        var now = _time.GetTimestamp();
        var promptTime = s.StartedAt == 0 ? TimeSpan.Zero : _time.GetElapsedTime(s.StartedAt, s.FirstTokenAt == 0 ? now : s.FirstTokenAt);
        var generationTime = s.FirstTokenAt == 0 ? TimeSpan.Zero : _time.GetElapsedTime(s.FirstTokenAt, now);
        s.Output.Writer.TryWrite(new GenerationChunk(string.Empty, new GenerationUsage(s.PromptTokens.Length, s.CompletionTokens, reason, promptTime, generationTime)));
        s.Output.Writer.TryComplete();
        Release(s);
    }

    private void Fail(Sequence s, Exception error)
    {
        s.Output.Writer.TryComplete(error);
        Release(s);
    }

    private void Release(Sequence s)
    {
        if (s.SeqId >= 0)
        {
            LlamaNative.llama_memory_seq_rm(_memory, s.SeqId, -1, -1);
            _slots.Return(s.SeqId);
            Volatile.Write(ref _freeSequences, _slots.Free);
            s.SeqId = -1;
        }

        _active.Remove(s);
        s.Dispose();
    }

    private SafeLlamaSamplerHandle CreateSampler(SamplingOptions o)
    {
        var chain = SafeLlamaSamplerHandle.CreateChain();
        try
        {
            if (o.RepetitionPenalty != 1f)
            {
                chain.Add(LlamaNative.llama_sampler_init_penalties(_model.VocabSize, 64, o.RepetitionPenalty, 0f, 0f), "repetition penalty");
            }

            if (o.Temperature == 0f)
            {
                chain.Add(LlamaNative.llama_sampler_init_greedy(), "greedy");
                return chain;
            }

            if (o.TopK > 0)
            {
                chain.Add(LlamaNative.llama_sampler_init_top_k(o.TopK), "top-k");
            }

            if (o.TopP < 1f)
            {
                chain.Add(LlamaNative.llama_sampler_init_top_p(o.TopP, 1), "top-p");
            }

            if (o.MinP > 0f)
            {
                chain.Add(LlamaNative.llama_sampler_init_min_p(o.MinP, 1), "min-p");
            }

            chain.Add(LlamaNative.llama_sampler_init_temp(o.Temperature), "temperature");
            chain.Add(LlamaNative.llama_sampler_init_dist(o.Seed), "distribution");
            return chain;
        }
        catch
        {
            chain.Dispose();
            throw;
        }
    }

    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Volatile.Write(ref _abortFlag[0], 1);
        _queue.Writer.TryComplete();
        _thread.Join();
        _context.Dispose();
        _threadpool?.Dispose();
        _model.Dispose();
        NativeMemory.Free(_tokens);
        NativeMemory.Free(_positions);
        NativeMemory.Free(_nSeqId);
        NativeMemory.Free(_seqIdStorage);
        NativeMemory.Free(_seqIds);
        NativeMemory.Free(_logits);
    }

    private static unsafe T* Alloc<T>(int count)
        where T : unmanaged => (T*)NativeMemory.AllocZeroed((nuint)(count * sizeof(T)));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe byte OnAbort(void* data) => Volatile.Read(ref *(int*)data) != 0 ? (byte)1 : (byte)0;

    [LoggerMessage(EventId = 110, Level = LogLevel.Information,
        Message = "Model {Name} ready: {Architecture}, {Parameters} parameters, {Context} tokens per sequence, {Sequences} sequences, {Threads} threads")]
    private static partial void LogReady(ILogger logger, string name, string architecture, long parameters, int context, int sequences, int threads);

    [LoggerMessage(EventId = 111, Level = LogLevel.Error, Message = "The decode thread failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "llama_decode returned {Code} with {Sequences} sequences active")]
    private static partial void LogDecodeFailed(ILogger logger, int code, int sequences);
}
