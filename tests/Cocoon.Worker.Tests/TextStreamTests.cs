using System.Text;
using Cocoon.Worker.Inference;

namespace Cocoon.Worker.Tests;

public sealed class TextStreamTests
{
    [Fact]
    public void NeverSplitsAUtf8Character()
    {
        const string text = "héllo, 世界 🙂!";
        var stream = new TextStream([]);
        var pieces = new List<string>();
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            pieces.Add(stream.Push([b]));
        }

        pieces.Add(stream.Flush());
        Assert.Equal(text, string.Concat(pieces));
        Assert.All(pieces, p => Assert.DoesNotContain('\uFFFD', p));
        Assert.All(pieces, p => Assert.True(p.Length == 0 || !char.IsHighSurrogate(p[^1]), "a piece ends in half a surrogate pair"));
    }

    [Fact]
    public void AStopStringSpanningPiecesIsNotEmitted()
    {
        var stream = new TextStream(["\nUser:"]);
        var emitted = stream.Push("Hello"u8) + stream.Push(" there\nUs"u8);
        Assert.False(stream.Stopped);
        Assert.Equal("Hello there", emitted);
        emitted += stream.Push("er: more"u8);
        Assert.True(stream.Stopped);
        Assert.Equal("Hello there", emitted);
        Assert.Equal(string.Empty, stream.Flush());
    }

    [Fact]
    public void HeldBackTextThatIsNotAStopIsReleased()
    {
        var stream = new TextStream(["END"]);
        Assert.Equal("a", stream.Push("aEN"u8));
        Assert.Equal("ENx", stream.Push("x"u8));
        Assert.Equal(string.Empty, stream.Push("E"u8));
        Assert.Equal("E", stream.Flush());
    }

    [Fact]
    public void TheEarliestStopWins()
    {
        var stream = new TextStream(["b", "a"]);
        Assert.Equal("x", stream.Push("xab"u8));
        Assert.True(stream.Stopped);
    }

    [Fact]
    public void AnIncompleteCharacterAtTheEndBecomesAReplacementCharacter()
    {
        var stream = new TextStream([]);
        Assert.Equal("a", stream.Push([(byte)'a', 0xE4, 0xB8]));
        Assert.Equal("\uFFFD", stream.Flush());
    }
}
