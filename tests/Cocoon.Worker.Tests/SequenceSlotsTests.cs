using Cocoon.Worker.Inference;

namespace Cocoon.Worker.Tests;

public sealed class SequenceSlotsTests
{
    [Fact]
    public void IdsComeLowestFirstWhateverOrderTheyWereReturnedIn()
    {
        var slots = new SequenceSlots(8);
        var taken = Enumerable.Range(0, 8).Select(_ => slots.Take()).ToList();
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], taken);

        // Sequences end in any order; the next ones must still form one run of consecutive ids from 0.
        foreach (var id in new[] { 5, 2, 7, 0, 3, 6, 1, 4 })
        {
            slots.Return(id);
        }

        Assert.Equal([0, 1, 2, 3], Enumerable.Range(0, 4).Select(_ => slots.Take()).ToList());
        slots.Return(1);
        Assert.Equal(1, slots.Take());
        Assert.Equal(4, slots.Free);
    }

    [Fact]
    public void ABatchIsKeptInIdOrder()
    {
        var active = new List<int>();
        foreach (var id in new[] { 3, 0, 7, 1, 5 })
        {
            SequenceSlots.Order(active, id, x => x);
        }

        Assert.Equal([0, 1, 3, 5, 7], active);
    }

    [Fact]
    public void MisuseIsAClearError()
    {
        var slots = new SequenceSlots(1);
        Assert.Throws<InvalidOperationException>(() => slots.Return(0));
        slots.Take();
        Assert.Throws<InvalidOperationException>(() => slots.Take());
    }
}
