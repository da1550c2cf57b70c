using Cocoon.Worker.Native;

namespace Cocoon.Worker.Tests;

/// <summary>The llama_batch arrays' owner: the batch llama_decode gets, and the block freed exactly once.</summary>
public sealed class NativeBatchTests
{
    [Fact]
    public unsafe void TheViewPointsAtWhatWasSet()
    {
        using var batch = SafeLlamaBatchHandle.Create(4);
        Assert.Equal(4, batch.Capacity);
        batch.Set(0, token: 11, position: 0, seqId: 2, output: false);
        batch.Set(1, token: 12, position: 7, seqId: 3, output: true);
        var view = batch.View(2);
        Assert.Equal(2, view.NTokens);
        Assert.True(view.Embd == null);
        Assert.Equal([11, 12], new[] { view.Token[0], view.Token[1] });
        Assert.Equal([0, 7], new[] { view.Pos[0], view.Pos[1] });
        Assert.Equal([2, 3], new[] { view.SeqId[0][0], view.SeqId[1][0] });
        Assert.Equal([1, 1, 1, 1], new[] { view.NSeqId[0], view.NSeqId[1], view.NSeqId[2], view.NSeqId[3] });
        Assert.Equal([0, 1], new[] { view.Logits[0], view.Logits[1] });

        // Every array lies inside the one block the handle owns, without overlapping its neighbours.
        var start = (byte*)batch.DangerousGetHandle();
        Assert.True((byte*)view.SeqId == start);
        Assert.True((byte*)view.Token >= start + (4 * sizeof(int*)));
        Assert.True(view.Pos == view.Token + 4 && view.NSeqId == view.Pos + 4 && view.SeqId[0] == view.NSeqId + 4);
        Assert.True((int*)view.Logits == view.SeqId[0] + 4);
        Assert.Equal(0, (nint)view.Token % sizeof(int));
    }

    [Fact]
    public void DisposeFreesTheBlockExactlyOnce()
    {
        var batch = SafeLlamaBatchHandle.Create(8);
        Assert.Equal(0, batch.Releases);
        batch.Dispose();
        batch.Dispose();
        Assert.True(batch.IsClosed);
        Assert.Equal(1, batch.Releases);
        Assert.Throws<ObjectDisposedException>(() => batch.View(1));
    }

    [Fact]
    public void ABatchHasRoomForAtLeastOneTokenAndAViewNoMoreThanItsCapacity()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SafeLlamaBatchHandle.Create(0));
        using var batch = SafeLlamaBatchHandle.Create(2);
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.View(3));
    }
}
