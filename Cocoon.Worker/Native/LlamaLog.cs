using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Native;

/// <summary>
/// Routes llama.cpp's and ggml's log (one process-wide callback in the native library) to an ILogger, so nothing
/// native reaches stdout. llama.cpp writes a line in pieces; level 5 (CONT) continues the previous piece.
/// </summary>
internal static unsafe partial class LlamaLog
{
    private static readonly Lock Gate = new();
    private static readonly StringBuilder Line = new();
    private static LogLevel _lineLevel = LogLevel.Information;
    private static ILogger? _logger;

    public static void Attach(ILogger logger)
    {
        lock (Gate)
        {
            _logger = logger;
        }

        LlamaNative.llama_log_set(&OnLog, null);
    }

    internal static LogLevel MapLevel(int ggmlLevel, LogLevel previous) => ggmlLevel switch
    {
        1 => LogLevel.Debug,
        2 => LogLevel.Information,
        3 => LogLevel.Warning,
        4 => LogLevel.Error,
        5 => previous,
        _ => LogLevel.Debug,
    };

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLog(int level, byte* text, void* userData)
    {
        try
        {
            var piece = text is null ? string.Empty : Marshal.PtrToStringUTF8((nint)text) ?? string.Empty;
            lock (Gate)
            {
                if (level != 5 && Line.Length > 0)
                {
                    Flush();
                }

                if (Line.Length == 0)
                {
                    _lineLevel = MapLevel(level, _lineLevel);
                }

                Line.Append(piece);
                if (piece.EndsWith('\n'))
                {
                    Flush();
                }
            }
        }
#pragma warning disable CA1031 // an exception must never unwind into native code
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private static void Flush()
    {
        var text = Line.ToString().TrimEnd('\n', '\r');
        Line.Clear();
        if (text.Length > 0 && _logger is { } logger && logger.IsEnabled(_lineLevel))
        {
            Native(logger, _lineLevel, text);
        }
    }

    [LoggerMessage(EventId = LogEvents.LlamaCpp + 1, Message = "llama.cpp: {Line}")]
    private static partial void Native(ILogger logger, LogLevel level, string line);
}
