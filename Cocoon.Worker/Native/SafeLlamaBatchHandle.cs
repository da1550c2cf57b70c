using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Cocoon.Worker.Native;

/// <summary>
/// The arrays behind a llama_batch of up to <see cref="Capacity"/> tokens with one sequence id each: token, pos,
/// n_seq_id, seq_id (pointers into a seq_id storage array) and logits, carved out of one native block that this handle
/// owns and frees exactly once. Not llama_batch_init: that allocates an n_seq_max array per token, and the decode loop
/// only ever needs one id per token. Written and read by one thread (the decode thread), which must be done with it
/// before Dispose; the hot path therefore does no reference counting.
/// </summary>
internal sealed unsafe class SafeLlamaBatchHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private readonly int** _seqIds;
    private readonly int* _tokens;
    private readonly int* _positions;
    private readonly int* _nSeqId;
    private readonly int* _seqIdStorage;
    private readonly sbyte* _logits;
    private int _releases;

    private SafeLlamaBatchHandle(int capacity)
        : base(ownsHandle: true)
    {
        // Pointers first, then the int arrays, then the bytes: every array starts aligned for its element type.
        var size = checked(((nuint)sizeof(int*) + (4 * (nuint)sizeof(int)) + 1) * (nuint)capacity);
        var block = (byte*)NativeMemory.AllocZeroed(size);
        SetHandle((nint)block);
        Capacity = capacity;
        _seqIds = (int**)block;
        _tokens = (int*)(block + (sizeof(int*) * capacity));
        _positions = _tokens + capacity;
        _nSeqId = _positions + capacity;
        _seqIdStorage = _nSeqId + capacity;
        _logits = (sbyte*)(_seqIdStorage + capacity);
        for (var i = 0; i < capacity; i++)
        {
            _seqIds[i] = _seqIdStorage + i;
            _nSeqId[i] = 1;
        }
    }

    /// <summary>Tokens the batch holds at most (the context's n_batch).</summary>
    public int Capacity { get; }

    /// <summary>How many times the block was freed: 1 after Dispose, never more (tests check the ownership).</summary>
    internal int Releases => Volatile.Read(ref _releases);

    public static SafeLlamaBatchHandle Create(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        return new SafeLlamaBatchHandle(capacity);
    }

    /// <summary>Puts a token at index (below Capacity: the caller counts) for one sequence; output asks for its logits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Set(int index, int token, int position, int seqId, bool output)
    {
        _tokens[index] = token;
        _positions[index] = position;
        _seqIdStorage[index] = seqId;
        _logits[index] = output ? (sbyte)1 : (sbyte)0;
    }

    /// <summary>The llama_batch of the first count tokens, to pass to llama_decode.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public LlamaBatch View(int count)
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)count, (uint)Capacity, nameof(count));
        return new LlamaBatch { NTokens = count, Token = _tokens, Pos = _positions, NSeqId = _nSeqId, SeqId = _seqIds, Logits = _logits };
    }

    protected override bool ReleaseHandle()
    {
        NativeMemory.Free((void*)handle);
        Interlocked.Increment(ref _releases);
        return true;
    }
}
