using System.Text;
using System.Threading.Channels;

namespace Cocoon.Bot.Dispatch;

/// <summary>
/// What the user has been sent, across attempts. An attempt that starts after text was delivered resumes from it
/// (<see cref="Engine.Protocol.GenerationRequest.Continuation"/>): its worker writes only the rest, so every piece it
/// sends is new and is streamed as it comes. The user gets one answer, never a restart or two spliced ones.
/// </summary>
public sealed class Delivery(ChannelWriter<DispatchEvent> events)
{
    private readonly StringBuilder _delivered = new();

    public int Delivered => _delivered.Length;

    /// <summary>The whole text the user was sent (for a resume and a spot-check replay; never stored or logged).</summary>
    public string Text => _delivered.ToString();

    /// <summary>The text the current attempt resumes from (what was delivered when it began), or null for a fresh one.</summary>
    public string? Continuation { get; private set; }

    /// <summary>Starts an attempt; returns the text it must resume from, or null when nothing was delivered yet.</summary>
    public string? BeginAttempt()
    {
        Continuation = _delivered.Length > 0 ? _delivered.ToString() : null;
        return Continuation;
    }

    /// <summary>Streams a piece of the current attempt's answer.</summary>
    public async ValueTask OfferAsync(string piece, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(piece);
        if (piece.Length == 0)
        {
            return;
        }

        // An opened piece is always queued, even when the caller has just stopped: it is part of what the worker's
        // receipt for the stopped answer covers, and a caller that keeps the stopped part must get it too. The
        // attempt still ends here on a stop.
        _delivered.Append(piece);
        var e = new DispatchPiece(piece);
        if (!events.TryWrite(e))
        {
            await events.WriteAsync(e, cancellationToken).ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
    }
}
