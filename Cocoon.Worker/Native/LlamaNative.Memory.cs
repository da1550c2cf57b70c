using System.Runtime.InteropServices;

namespace Cocoon.Worker.Native;

internal static partial class LlamaNative
{
    /// <summary>A recurrent model (Mamba, RWKV): its state cannot drop a tail, so nothing may be decoded speculatively.</summary>
    [LibraryImport(Llama)]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool llama_model_is_recurrent(SafeLlamaModelHandle model);

    /// <summary>A hybrid model (attention and recurrent layers): the same as recurrent for dropping a tail.</summary>
    [LibraryImport(Llama)]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool llama_model_is_hybrid(SafeLlamaModelHandle model);
}
