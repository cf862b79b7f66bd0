// Every module that speaks the wire protocol sees the shared vocabulary (Modality, ModalityMap,
// Locked, the wall clock) without a second import.
@_exported import ForesightCore
