using System.Runtime.CompilerServices;
using Cocoon.Worker.Native;

namespace Cocoon.Worker.Inference;

/// <summary>
/// Batching must not change an answer, sampled ones included. llama.cpp's CPU backend computes a decode step of one
/// row (a sequence generating alone) with its matrix-vector path and a step of two or more rows with its matrix-matrix
/// path (tinyBLAS), which sums in another order: the logits differ in the last bits (measured with `./cocoon bench
/// llama-seeded`: a one-row step vs the same token in an eight-row step, 365 of the small model's 512 logits differ, by
/// up to 2.9e-6; a 5-row and a 40-row prefill agree bit for bit). A greedy pick almost never moves (0 of 24), but a
/// seeded draw that lands near the boundary between two tokens does, and the answers part from there (2 of 24 sampled
/// answers on the small model without this). So a step that would decode a single row gets a second one: the same
/// sequence's token again, one position further, with no output. Causal attention keeps the real row from seeing it,
/// its KV cell is dropped right after the decode, and for a memory-bound step (a large model) the extra row costs little; on a small model it does not (below).
/// This fixes the weight products but NOT yet attention: two query rows of one sequence still take another attention
/// path than one row in each of several sequences (bench: padded lone step vs 8 sequences, 311 of 512 logits differ by
/// up to 2.9e-6, while 2 sequences vs 8 agree bit for bit). The next step is to pad with a row of a free sequence slot
/// instead. Not done for recurrent or hybrid models (their state cannot drop the extra token) nor in a sequence's last
/// context cell. Off unless Llama:BatchInvariantSampling is true: the extra row halves a lone stream's speed on the
/// small model (generate at 2 threads: about 3,900 tok/s with it, 6,900 without).
/// </summary>
internal sealed partial class DecodeLoop
{
    // The sequence whose padding row is in the batch being decoded, and the position of that row.
    private Sequence? _padded;
    private int _paddedAt;
    private int _canPad = -1;

    // Llama:BatchInvariantSampling: off by default, since the padding row halves a lone stream's speed on small models.
    private readonly bool _padLoneRows;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int PadLoneRow(int n)
    {
        _padded = null;
        if (n != 1 || !_padLoneRows)
        {
            return n;
        }

        if (_canPad < 0)
        {
            _canPad = LlamaNative.llama_model_is_recurrent(_model.Handle) || LlamaNative.llama_model_is_hybrid(_model.Handle) ? 0 : 1;
        }

        var s = _active.Find(a => a.Position != a.PositionBeforeBatch);
        if (_canPad == 0 || s is null || s.Position >= ContextLength || n >= _batch.Capacity)
        {
            return n;
        }

        // s.Position is one past the row just added: the padding row sits there and is dropped after the decode.
        var token = s.NextToken >= 0 ? s.NextToken : s.PromptTokens[s.PromptFed - 1];
        _batch.Set(n, token, s.Position, s.SeqId, output: false);
        (_padded, _paddedAt) = (s, s.Position);
        return n + 1;
    }

    /// <summary>After a decode (done or aborted): the padding row's KV cell goes, so the sequence holds only its own tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DropPad()
    {
        if (_padded is { SeqId: >= 0 } s)
        {
            LlamaNative.llama_memory_seq_rm(_memory, s.SeqId, _paddedAt, -1);
        }

        _padded = null;
    }
}
