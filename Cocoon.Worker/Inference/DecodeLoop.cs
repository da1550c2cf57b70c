using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Native;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Inference;

/// <summary>
/// The continuous-batching scheduler: one llama_context (with its persistent ggml threadpool) and one decode thread.
/// Between decode steps it admits queued sequences into free sequence slots (kept in id order, see SequenceSlots),
/// builds one batch (a token for every running sequence first, then prompt tokens), decodes it, samples, and hands out
/// text at most every ChunkIntervalMs. A sequence frees its slot the moment it ends; a job with a cache scope leaves
/// its KV cells in place for the next job of that scope (see PrefixCache), any other job's cells are cleared. Everything
/// here runs on the decode thread except Enqueue, RequestAbort and Dispose.
/// </summary>
internal sealed partial class DecodeLoop : IDisposable
{
    private readonly LlamaModel _model;
    private readonly SafeLlamaContextHandle _context;
    private readonly SafeGgmlThreadpoolHandle? _threadpool;
    private readonly SafeLlamaBatchHandle _batch;
    private readonly nint _memory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<Sequence> _queue;
    private readonly Thread _thread;
    private readonly SequenceSlots _slots;
    private readonly PrefixCache _cache;
    private readonly List<Sequence> _active = [];
    private readonly long _chunkInterval;
    // Pinned so llama.cpp's abort callback can read it while cancellation callbacks write it through the array.
    private readonly int[] _abortFlag = GC.AllocateArray<int>(1, pinned: true);
    private int _disposed;
    private int _freeSequences;
    private long _decodeSteps;
    private long _decodeTicks;
    private long _hostTicks;
    private bool _warmUpEnded;
    private long _cacheLookups;
    private long _cacheHits;
    private long _cachedTokens;
    private long _cacheEvictions;

    public unsafe DecodeLoop(LlamaModel model, LlamaInferenceOptions options, ILogger logger, TimeProvider time)
    {
        _model = model;
        _logger = logger;
        _time = time;
        Threads = options.Threads > 0 ? options.Threads : Environment.ProcessorCount;
        var parameters = LlamaNative.llama_context_default_params();
        parameters.NCtx = checked((uint)(options.ContextSize * options.MaxConcurrency));
        parameters.NSeqMax = (uint)options.MaxConcurrency;
        parameters.NBatch = (uint)options.BatchSize;
        parameters.NUbatch = (uint)options.BatchSize;
        parameters.NThreads = Threads;
        parameters.NThreadsBatch = Threads;

        parameters.KvUnified = options.KvUnified ? (byte)1 : (byte)0;
        _padLoneRows = options.BatchInvariantSampling;
        parameters.NoPerf = 1;
        parameters.AbortCallback = (nint)(delegate* unmanaged[Cdecl]<void*, byte>)&OnAbort;
        parameters.AbortCallbackData = (nint)Unsafe.AsPointer(ref _abortFlag[0]);
        _context = SafeLlamaContextHandle.Create(model.Handle, parameters);
        try
        {
            _threadpool = SafeGgmlThreadpoolHandle.TryCreate(Threads, options.ThreadPoll);
            if (_threadpool is not null)
            {
                _context.AttachThreadpool(_threadpool);
            }

            _memory = LlamaNative.llama_get_memory(_context);
            _chunkInterval = options.ChunkIntervalMs * Stopwatch.Frequency / 1000;

            // A unified cache lets one sequence grow into the others' share; holding each to ContextSize keeps every
            // admitted request's room guaranteed.
            ContextLength = Math.Min(options.ContextSize, (int)LlamaNative.llama_n_ctx_seq(_context));
            MaxConcurrency = (int)LlamaNative.llama_n_seq_max(_context);
            _slots = new SequenceSlots(MaxConcurrency);
            _cache = new PrefixCache(options.ResolvedPrefixCacheTokens);
            _freeSequences = MaxConcurrency;
            _batch = SafeLlamaBatchHandle.Create((int)LlamaNative.llama_n_batch(_context));
        }
        catch
        {
            _context.Dispose();
            _threadpool?.Dispose();
            throw;
        }

        _queue = Channel.CreateBounded<Sequence>(new BoundedChannelOptions(options.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _thread = new Thread(Run) { IsBackground = true, Name = "llama-decode" };
        _thread.Start();
    }

    public int Threads { get; }

    /// <summary>Tokens of context each sequence has (prompt + completion).</summary>
    public int ContextLength { get; }

    public int MaxConcurrency { get; }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>llama_decode calls so far, aborted ones included.</summary>
    public long DecodeSteps => Volatile.Read(ref _decodeSteps);

    public DecodeLoopStats Stats => new(
        Volatile.Read(ref _decodeSteps),
        TimeSpan.FromSeconds(Volatile.Read(ref _decodeTicks) / (double)Stopwatch.Frequency),
        TimeSpan.FromSeconds(Volatile.Read(ref _hostTicks) / (double)Stopwatch.Frequency));

    /// <summary>Sequence slots not in use right now (idle sequences that hold a cached prefix count as free).</summary>
    public int FreeSequences => Volatile.Read(ref _freeSequences);

    public PrefixCacheStats CacheStats => new(
        Volatile.Read(ref _cacheLookups),
        Volatile.Read(ref _cacheHits),
        Volatile.Read(ref _cachedTokens),
        Volatile.Read(ref _cacheEvictions));

    /// <summary>Queues a sequence (waits while the queue is full); throws ChannelClosedException once the loop has ended.</summary>
    public ValueTask EnqueueAsync(Sequence sequence, CancellationToken cancellationToken) =>
        _queue.Writer.WriteAsync(sequence, cancellationToken);

    /// <summary>Stops the decode step in flight (llama.cpp polls this through the abort callback); any thread.</summary>
    public void RequestAbort() => Volatile.Write(ref _abortFlag[0], 1);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        RequestAbort();
        _queue.Writer.TryComplete();
        _thread.Join();
        _context.Dispose();
        _threadpool?.Dispose();
        _batch.Dispose();
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

    // The decode thread's per-step methods are compiled fully optimized on first call (the warm-up) instead of tiered:
    // Loop is entered once and never returns, so tiering would leave it in unoptimized code until on-stack replacement,
    // and the others would be recompiled on a background thread in the middle of an answer (a core taken from ggml's
    // threads at 2 threads on 2 cores).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Loop()
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

            var stepStart = Stopwatch.GetTimestamp();
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

            var batch = _batch.View(n);
            var decodeStart = Stopwatch.GetTimestamp();
            var rc = LlamaNative.llama_decode(_context, batch);
            var decodeEnd = Stopwatch.GetTimestamp();
            DropPad();
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

            ReadScores();
            Sample();
            if (!_warmUpEnded)
            {
                Volatile.Write(ref _hostTicks, _hostTicks + (Stopwatch.GetTimestamp() - stepStart) - (decodeEnd - decodeStart));
            }

            _warmUpEnded = false;
        }
    }

    private void Admit()
    {
        while (_slots.Free + _cache.Count > 0 && _queue.Reader.TryRead(out var s))
        {
            if (s.IsCancelled)
            {
                Finish(s, FinishReason.Cancelled);
                continue;
            }

            try
            {
                s.Sampler = SamplerChain.Create(s.Sampling, _model.VocabSize);
                s.Sampler.Accept(s.History);
            }
#pragma warning disable CA1031 // reported to that request's consumer
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Fail(s, ex);
                continue;
            }

            s.SeqId = TakeSequence(s);
            Volatile.Write(ref _freeSequences, _slots.Free + _cache.Count);
            s.StartedAt = _time.GetTimestamp();
            SequenceSlots.Order(_active, s, a => a.SeqId);
        }
    }

    /// <summary>
    /// A sequence id for <paramref name="s"/>: the idle sequence of its scope with the longest common prefix (whose
    /// cells past that prefix are dropped and whose position starts there), else an empty one, else the least recently
    /// used idle sequence, emptied.
    /// </summary>
    private int TakeSequence(Sequence s)
    {
        if (s.CacheScope is { } scope && _cache.Enabled)
        {
            Interlocked.Increment(ref _cacheLookups);
            if (_cache.TryTake(scope, s.PromptTokens, out var id, out var prefix))
            {
                // A memory that cannot drop a tail (recurrent state) or that lost the start to a sliding window cannot
                // serve a prefix: the sequence then starts empty.
                if (LlamaNative.llama_memory_seq_rm(_memory, id, prefix, -1) && LlamaNative.llama_memory_seq_pos_min(_memory, id) == 0)
                {
                    s.Position = s.PromptFed = s.CachedTokens = prefix;
                    Interlocked.Increment(ref _cacheHits);
                    Interlocked.Add(ref _cachedTokens, prefix);
                }
                else
                {
                    LlamaNative.llama_memory_seq_rm(_memory, id, -1, -1);
                }

                return id;
            }
        }

        if (_slots.Free > 0)
        {
            return _slots.Take();
        }

        var evicted = _cache.EvictOldest();
        Interlocked.Increment(ref _cacheEvictions);
        LlamaNative.llama_memory_seq_rm(_memory, evicted, -1, -1);
        return evicted;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int BuildBatch()
    {
        var n = 0;
        var capacity = _batch.Capacity;

        // Running sequences first: one token each keeps their latency flat while new prompts are prefilled.
        foreach (var s in _active)
        {
            s.PositionBeforeBatch = s.Position;
            s.PromptFedBeforeBatch = s.PromptFed;
            s.OutputIndex = -1;
            s.Score?.Rows.Clear();
            if (!s.IsPrefilling && n < capacity)
            {
                Add(ref n, s.NextToken, s.Position++, output: true, s);
            }
        }

        foreach (var s in _active)
        {
            while (s.IsPrefilling && n < capacity)
            {
                if (s.Score is not null)
                {
                    AddScored(ref n, s);
                    continue;
                }

                var last = s.PromptFed == s.PromptTokens.Length - 1;
                Add(ref n, s.PromptTokens[s.PromptFed++], s.Position++, last, s);
            }
        }

        return PadLoneRow(n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Add(ref int n, int token, int position, bool output, Sequence s)
    {
        _batch.Set(n, token, position, s.SeqId, output);
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

            if (s.Healing is { Active: true } healing)
            {
                // A resumed answer writes the delivered text's last token again first (see TokenHealing).
                unsafe
                {
                    healing.Mask(_model, LlamaNative.llama_get_logits_ith(_context, s.OutputIndex));
                }
            }

            var token = s.Sampler!.Sample(_context, s.OutputIndex);
            if (_model.IsEndOfGeneration(token))
            {
                s.EndToken = token;
                Finish(s, FinishReason.Stop);
                continue;
            }

            s.CompletionTokens++;
            s.Generated.Add(token);
            var length = _model.TokenToPiece(token, piece, out var large);
            ReadOnlySpan<byte> bytes = large ?? piece[..length];
            var text = s.Text.Push(s.Healing is { } healed ? healed.Consume(bytes) : bytes);
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Deliver(Sequence s, string text)
    {
        var now = Stopwatch.GetTimestamp();
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

        s.Output.Writer.TryWrite(new GenerationChunk(text, null, s.CompletionTokens, s.PromptTokens.Length, s.CachedTokens));
        s.LastChunkAt = now;
    }

    private void Finish(Sequence s, FinishReason reason)
    {
        var rest = s.Pending.Append(s.Text.Flush()).ToString();
        s.Pending.Clear();
        if (rest.Length > 0)
        {
            s.Output.Writer.TryWrite(new GenerationChunk(rest, null, s.CompletionTokens, s.PromptTokens.Length, s.CachedTokens));
        }

        var now = _time.GetTimestamp();
        var promptTime = s.StartedAt == 0 ? TimeSpan.Zero : _time.GetElapsedTime(s.StartedAt, s.FirstTokenAt == 0 ? now : s.FirstTokenAt);
        var generationTime = s.FirstTokenAt == 0 ? TimeSpan.Zero : _time.GetElapsedTime(s.FirstTokenAt, now);
        var usage = new GenerationChunk(string.Empty, new GenerationUsage(s.PromptTokens.Length, s.CompletionTokens, reason, promptTime, generationTime, s.CachedTokens)
        {
            AnswerTokens = s.Score is null ? s.AnswerTokens() : null,
        });

        // The slot is freed (or kept for the scope's next job) before the caller sees the end: whoever has read the
        // last chunk finds the free slots and the cache counters already updated.
        Release(s, keepCells: true);
        s.Output.Writer.TryWrite(usage);
        s.Output.Writer.TryComplete();
    }

    private void Fail(Sequence s, Exception error)
    {
        s.Output.Writer.TryComplete(error);
        Release(s, keepCells: false);
    }

    private void Release(Sequence s, bool keepCells)
    {
        if (s.SeqId >= 0)
        {
            if (keepCells && s.CacheScope is { } scope && _cache.Enabled && s.Position > 0)
            {
                foreach (var id in _cache.Keep(s.SeqId, scope, s.CellTokens()))
                {
                    if (id != s.SeqId)
                    {
                        Interlocked.Increment(ref _cacheEvictions);
                    }

                    Clear(id);
                }
            }
            else
            {
                Clear(s.SeqId);
            }

            Volatile.Write(ref _freeSequences, _slots.Free + _cache.Count);
            s.SeqId = -1;
        }

        _active.Remove(s);
        s.Dispose();
        if (s.IsWarmUp)
        {
            EndWarmUp();
        }
    }

    // As llama.cpp's common_init_from_params after its warm-up decode: the whole cache cleared, data included, so the
    // first job starts from the same KV state as in a fresh context; the counters then count served work only.
    private void EndWarmUp()
    {
        LlamaNative.llama_memory_clear(_memory, true);
        Volatile.Write(ref _decodeSteps, 0);
        Volatile.Write(ref _decodeTicks, 0);
        Volatile.Write(ref _hostTicks, 0);
        _warmUpEnded = true;
    }

    private void Clear(int seqId)
    {
        LlamaNative.llama_memory_seq_rm(_memory, seqId, -1, -1);
        _slots.Return(seqId);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe byte OnAbort(void* data) => Volatile.Read(ref *(int*)data) != 0 ? (byte)1 : (byte)0;

    [LoggerMessage(EventId = LogEvents.DecodeLoop + 1, Level = LogLevel.Error, Message = "The decode thread failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEvents.DecodeLoop + 2, Level = LogLevel.Warning, Message = "llama_decode returned {Code} with {Sequences} sequences active")]
    private static partial void LogDecodeFailed(ILogger logger, int code, int sequences);
}
